// The server's Prometheus text (see server_metrics_text.hpp).
#include "inbound/server_metrics_text.hpp"

#include <fmt/format.h>

#include <cstdint>
#include <string_view>

#include "inbound/prometheus_text.hpp"

namespace anytls::inbound {

namespace {

void counter(std::string& out, std::string_view name, std::string_view help, std::uint64_t value) {
    append_metric_header(out, name, "counter", help);
    append_sample(out, name, {}, value);
}

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
    counter(out, "anytls_server_connections_accepted_total", "TCP connections accepted.",
            t.connections_accepted);
    counter(out, "anytls_server_connections_over_limit_total",
            "Connections closed at once because max-sessions was reached.",
            t.connections_over_limit);
    counter(out, "anytls_server_handshake_failures_total", "TLS handshakes that failed.",
            t.handshake_failures);
    counter(out, "anytls_server_sessions_total", "Sessions that authenticated.",
            t.sessions_authenticated);
    counter(out, "anytls_server_auth_failures_total",
            "Connections whose authentication failed (closed or sent to the fallback).",
            t.auth_failures);
    counter(out, "anytls_server_fallbacks_total",
            "Failed authentications relayed to the fallback service.", t.fallbacks);
    counter(out, "anytls_server_padding_updates_total",
            "UpdatePaddingScheme frames sent to clients with another scheme.",
            t.padding_updates_sent);
    counter(out, "anytls_server_alerts_total", "Sessions ended with an Alert frame.",
            t.alerts_sent);
    counter(out, "anytls_server_streams_opened_total", "Streams opened by clients (SYN).",
            t.streams_opened);
    counter(out, "anytls_server_streams_refused_total",
            "Streams refused: over max-streams-per-session, a bad or refused target, a failed "
            "dial.",
            t.streams_refused);

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
