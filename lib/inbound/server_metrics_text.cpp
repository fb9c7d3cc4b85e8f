// The server's Prometheus text (see server_metrics_text.hpp).
#include "inbound/server_metrics_text.hpp"

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <string_view>

#include "inbound/prometheus_text.hpp"

namespace anytls::inbound {

namespace {

struct CounterRow {
    std::string_view name;
    std::string_view help;
    std::uint64_t server::ServerStats::*field;
};

constexpr std::array<CounterRow, 10> kCounters{{
    {"anytls_server_connections_accepted_total", "TCP connections accepted.",
     &server::ServerStats::connections_accepted},
    {"anytls_server_connections_over_limit_total",
     "Connections closed at once because max-sessions was reached.",
     &server::ServerStats::connections_over_limit},
    {"anytls_server_handshake_failures_total", "TLS handshakes that failed.",
     &server::ServerStats::handshake_failures},
    {"anytls_server_sessions_total", "Sessions that authenticated.",
     &server::ServerStats::sessions_authenticated},
    {"anytls_server_auth_failures_total",
     "Connections whose authentication failed (closed or sent to the fallback).",
     &server::ServerStats::auth_failures},
    {"anytls_server_fallbacks_total", "Failed authentications relayed to the fallback service.",
     &server::ServerStats::fallbacks},
    {"anytls_server_padding_updates_total",
     "UpdatePaddingScheme frames sent to clients with another scheme.",
     &server::ServerStats::padding_updates_sent},
    {"anytls_server_alerts_total", "Sessions ended with an Alert frame.",
     &server::ServerStats::alerts_sent},
    {"anytls_server_streams_opened_total", "Streams opened by clients (SYN).",
     &server::ServerStats::streams_opened},
    {"anytls_server_streams_refused_total",
     "Streams refused: over max-streams-per-session, a bad or refused target, a failed dial.",
     &server::ServerStats::streams_refused},
}};

}  // namespace

std::string format_server_metrics(const server::ServerMetrics& metrics) {
    std::string out;
    constexpr std::string_view connections = "anytls_server_connections";
    append_metric_header(out, connections, "gauge",
                         "Connections open now, by reactor thread and state.");
    for (std::size_t i = 0; i < metrics.threads.size(); ++i) {
        append_sample(out, connections, fmt::format("thread=\"{}\",state=\"handshaking\"", i),
                      metrics.threads[i].handshaking);
        append_sample(out, connections, fmt::format("thread=\"{}\",state=\"authenticated\"", i),
                      metrics.threads[i].sessions);
    }
    const server::ServerStats& t = metrics.totals;
    for (const CounterRow& row : kCounters) {
        append_metric_header(out, row.name, "counter", row.help);
        append_sample(out, row.name, {}, t.*row.field);
    }

    constexpr std::string_view bytes = "anytls_server_user_bytes_total";
    append_metric_header(out, bytes, "counter",
                         "Bytes of each user's sessions after TLS: in from clients, out to them.");
    for (const auto& [user, traffic] : t.traffic_by_user) {
        const std::string label = escape_label_value(user);
        append_sample(out, bytes, fmt::format("user=\"{}\",direction=\"in\"", label),
                      traffic.bytes_in);
        append_sample(out, bytes, fmt::format("user=\"{}\",direction=\"out\"", label),
                      traffic.bytes_out);
    }

    constexpr std::string_view handshake = "anytls_server_handshake_seconds";
    append_metric_header(out, handshake, "histogram", "Duration of completed TLS handshakes.");
    append_histogram(out, handshake, {}, server::kHandshakeLatencyBounds,
                     t.handshake_latency_buckets, t.handshake_latency_seconds_sum);
    return out;
}

}  // namespace anytls::inbound
