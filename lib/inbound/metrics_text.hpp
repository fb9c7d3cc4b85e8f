// The pools' statistics in the Prometheus text exposition format (version 0.0.4), served by
// `anytls socks --metrics ADDR` on /metrics. Pure: a plain PoolStats snapshot in, text out;
// it links nothing but fmt.
//
// Every metric has a "# HELP" and a "# TYPE" line, then one sample per proxy with the label
// proxy="<name>" (label values escaped: backslash, double quote, newline):
//   anytls_pool_sessions{proxy,state="idle|busy|creating"}            gauge
//   anytls_pool_sessions_created_total{proxy}                         counter
//   anytls_pool_sessions_closed_total{proxy,reason="idle|age|heartbeat|error|reset|no_reuse"} counter
//   anytls_pool_session_creation_failures_total{proxy}                counter
//   anytls_pool_streams_opened_total{proxy}                           counter
//   anytls_pool_warm_opens_total{proxy}                               counter
//   anytls_pool_cold_opens_total{proxy}                               counter
//   anytls_pool_retried_opens_total{proxy}                            counter
//   anytls_pool_stream_open_latency_seconds{proxy}                    histogram
//       _bucket{le="0.001"...le="+Inf"} (cumulative), _sum, _count
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "client/pool_stats.hpp"
#include "inbound/prometheus_text.hpp"

namespace anytls::inbound {

struct ProxyStats {
    std::string proxy;
    client::PoolStats stats;
};

std::string format_prometheus_metrics(const std::vector<ProxyStats>& proxies);

}  // namespace anytls::inbound
