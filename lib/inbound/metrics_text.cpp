// The pools' statistics as Prometheus text (see metrics_text.hpp).
#include "inbound/metrics_text.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace anytls::inbound {

namespace {

// A number as Prometheus reads it: shortest round-trip form.
std::string number(double value) { return fmt::format("{}", value); }

void header(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

void sample(std::string& out, std::string_view name, std::string_view labels, std::uint64_t value) {
    out += fmt::format("{}{{{}}} {}\n", name, labels, value);
}

using Counter = std::uint64_t client::PoolStats::*;

void counter(std::string& out, const std::vector<ProxyStats>& proxies, std::string_view name,
             std::string_view help, Counter field) {
    header(out, name, "counter", help);
    for (const auto& p : proxies)
        sample(out, name, fmt::format("proxy=\"{}\"", escape_label_value(p.proxy)), p.stats.*field);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string format_prometheus_metrics(const std::vector<ProxyStats>& proxies) {
    std::string out;
    header(out, "anytls_pool_sessions", "gauge", "Sessions of the pool by state.");
    for (const auto& p : proxies) {
        const std::string proxy = escape_label_value(p.proxy);
        sample(out, "anytls_pool_sessions", fmt::format("proxy=\"{}\",state=\"idle\"", proxy),
               p.stats.idle);
        sample(out, "anytls_pool_sessions", fmt::format("proxy=\"{}\",state=\"busy\"", proxy),
               p.stats.busy);
        sample(out, "anytls_pool_sessions", fmt::format("proxy=\"{}\",state=\"creating\"", proxy),
               p.stats.creating);
    }
    counter(out, proxies, "anytls_pool_sessions_created_total",
            "Sessions created (handshake completed).", &client::PoolStats::created_total);
    header(out, "anytls_pool_sessions_closed_total", "counter", "Sessions closed, by reason.");
    static constexpr std::pair<std::string_view, Counter> reasons[] = {
        {"idle", &client::PoolStats::closed_idle},
        {"age", &client::PoolStats::closed_age},
        {"heartbeat", &client::PoolStats::closed_heartbeat},
        {"error", &client::PoolStats::closed_error},
        {"reset", &client::PoolStats::closed_reset},
        {"no_reuse", &client::PoolStats::closed_no_reuse},
    };
    for (const auto& p : proxies) {
        const std::string proxy = escape_label_value(p.proxy);
        for (const auto& [reason, field] : reasons)
            sample(out, "anytls_pool_sessions_closed_total",
                   fmt::format("proxy=\"{}\",reason=\"{}\"", proxy, reason), p.stats.*field);
    }
    counter(out, proxies, "anytls_pool_session_creation_failures_total",
            "Session creations that failed.", &client::PoolStats::creation_failures);
    counter(out, proxies, "anytls_pool_streams_opened_total", "Streams opened through the pool.",
            &client::PoolStats::streams_opened);
    counter(out, proxies, "anytls_pool_warm_opens_total",
            "Streams opened on an idle (warm) session.", &client::PoolStats::warm_opens);
    counter(out, proxies, "anytls_pool_cold_opens_total",
            "Streams that waited for a new session's handshake.", &client::PoolStats::cold_opens);
    counter(out, proxies, "anytls_pool_retried_opens_total",
            "Opens retried on a fresh session after a reused one failed.",
            &client::PoolStats::retried_opens);

    constexpr std::string_view histogram = "anytls_pool_stream_open_latency_seconds";
    header(out, histogram, "histogram",
           "Time from a stream open request to the server's acknowledgement.");
    for (const auto& p : proxies) {
        const std::string proxy = escape_label_value(p.proxy);
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i < client::kOpenLatencyBounds.size(); ++i) {
            cumulative += p.stats.open_latency_buckets[i];
            out += fmt::format("{}_bucket{{proxy=\"{}\",le=\"{}\"}} {}\n", histogram, proxy,
                               number(client::kOpenLatencyBounds[i]), cumulative);
        }
        cumulative += p.stats.open_latency_buckets.back();
        out +=
            fmt::format("{}_bucket{{proxy=\"{}\",le=\"+Inf\"}} {}\n", histogram, proxy, cumulative);
        out += fmt::format("{}_sum{{proxy=\"{}\"}} {}\n", histogram, proxy,
                           number(p.stats.open_latency_seconds_sum));
        out += fmt::format("{}_count{{proxy=\"{}\"}} {}\n", histogram, proxy, cumulative);
    }
    return out;
}

}  // namespace anytls::inbound
