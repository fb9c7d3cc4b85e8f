// The pools' statistics as Prometheus text (see metrics_text.hpp).
#include "inbound/metrics_text.hpp"

#include <fmt/format.h>

#include <cstdint>

namespace anytls::inbound {

namespace {

using Counter = std::uint64_t client::PoolStats::*;

void counter(std::string& out, const std::vector<ProxyStats>& proxies, std::string_view name,
             std::string_view help, Counter field) {
    append_metric_header(out, name, "counter", help);
    for (const auto& p : proxies)
        append_sample(out, name, fmt::format("proxy=\"{}\"", escape_label_value(p.proxy)),
                      p.stats.*field);
}

}  // namespace

std::string format_prometheus_metrics(const std::vector<ProxyStats>& proxies) {
    std::string out;
    append_metric_header(out, "anytls_pool_sessions", "gauge", "Sessions of the pool by state.");
    for (const auto& p : proxies) {
        const std::string proxy = escape_label_value(p.proxy);
        append_sample(out, "anytls_pool_sessions",
                      fmt::format("proxy=\"{}\",state=\"idle\"", proxy), p.stats.idle);
        append_sample(out, "anytls_pool_sessions",
                      fmt::format("proxy=\"{}\",state=\"busy\"", proxy), p.stats.busy);
        append_sample(out, "anytls_pool_sessions",
                      fmt::format("proxy=\"{}\",state=\"creating\"", proxy), p.stats.creating);
    }
    counter(out, proxies, "anytls_pool_sessions_created_total",
            "Sessions created (handshake completed).", &client::PoolStats::created_total);
    append_metric_header(out, "anytls_pool_sessions_closed_total", "counter",
                         "Sessions closed, by reason.");
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
            append_sample(out, "anytls_pool_sessions_closed_total",
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
    append_metric_header(out, histogram, "histogram",
                         "Time from a stream open request to the server's acknowledgement.");
    for (const auto& p : proxies)
        append_histogram(out, histogram, fmt::format("proxy=\"{}\"", escape_label_value(p.proxy)),
                         client::kOpenLatencyBounds, p.stats.open_latency_buckets,
                         p.stats.open_latency_seconds_sum);
    return out;
}

}  // namespace anytls::inbound
