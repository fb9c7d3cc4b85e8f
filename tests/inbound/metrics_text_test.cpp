// Tests of the Prometheus text of the pool statistics (lib/inbound/metrics_text.hpp).
#include <doctest/doctest.h>

#include <string>

#include "inbound/metrics_text.hpp"

using namespace anytls;
using namespace anytls::inbound;

TEST_SUITE("metrics_text") {
    TEST_CASE("every family has HELP and TYPE, samples carry the proxy label") {
        client::PoolStats stats;
        stats.idle = 2;
        stats.busy = 1;
        stats.creating = 3;
        stats.created_total = 7;
        stats.closed_age = 4;
        stats.creation_failures = 1;
        stats.streams_opened = 5;
        stats.warm_opens = 4;
        stats.cold_opens = 1;
        const std::string text = format_prometheus_metrics({{"p1", stats}});
        CHECK(text.find("# HELP anytls_pool_sessions Sessions of the pool by state.\n"
                        "# TYPE anytls_pool_sessions gauge\n"
                        "anytls_pool_sessions{proxy=\"p1\",state=\"idle\"} 2\n"
                        "anytls_pool_sessions{proxy=\"p1\",state=\"busy\"} 1\n"
                        "anytls_pool_sessions{proxy=\"p1\",state=\"creating\"} 3\n") == 0);
        CHECK(text.find("# TYPE anytls_pool_sessions_created_total counter\n"
                        "anytls_pool_sessions_created_total{proxy=\"p1\"} 7\n") !=
              std::string::npos);
        CHECK(text.find("anytls_pool_sessions_closed_total{proxy=\"p1\",reason=\"age\"} 4\n") !=
              std::string::npos);
        CHECK(
            text.find("anytls_pool_sessions_closed_total{proxy=\"p1\",reason=\"no_reuse\"} 0\n") !=
            std::string::npos);
        CHECK(text.find("anytls_pool_session_creation_failures_total{proxy=\"p1\"} 1\n") !=
              std::string::npos);
        CHECK(text.find("anytls_pool_warm_opens_total{proxy=\"p1\"} 4\n") != std::string::npos);
        CHECK(text.find("anytls_pool_cold_opens_total{proxy=\"p1\"} 1\n") != std::string::npos);
        CHECK(text.ends_with("\n"));
    }
    TEST_CASE("the histogram is cumulative and ends with +Inf, _sum and _count") {
        client::PoolStats stats;
        stats.open_latency_buckets[0] = 2;      // <= 1ms
        stats.open_latency_buckets[4] = 3;      // <= 25ms
        stats.open_latency_buckets.back() = 1;  // > 5s
        stats.open_latency_seconds_sum = 6.5;
        const std::string text = format_prometheus_metrics({{"p", stats}});
        CHECK(text.find("# TYPE anytls_pool_stream_open_latency_seconds histogram\n") !=
              std::string::npos);
        CHECK(text.find(
                  "anytls_pool_stream_open_latency_seconds_bucket{proxy=\"p\",le=\"0.001\"} 2\n") !=
              std::string::npos);
        CHECK(text.find(
                  "anytls_pool_stream_open_latency_seconds_bucket{proxy=\"p\",le=\"0.01\"} 2\n") !=
              std::string::npos);
        CHECK(text.find(
                  "anytls_pool_stream_open_latency_seconds_bucket{proxy=\"p\",le=\"0.025\"} 5\n") !=
              std::string::npos);
        CHECK(
            text.find("anytls_pool_stream_open_latency_seconds_bucket{proxy=\"p\",le=\"5\"} 5\n") !=
            std::string::npos);
        CHECK(
            text.find("anytls_pool_stream_open_latency_seconds_bucket{proxy=\"p\",le=\"+Inf\"} 6\n"
                      "anytls_pool_stream_open_latency_seconds_sum{proxy=\"p\"} 6.5\n"
                      "anytls_pool_stream_open_latency_seconds_count{proxy=\"p\"} 6\n") !=
            std::string::npos);
    }
    TEST_CASE("several proxies, label values escaped") {
        const std::string text = format_prometheus_metrics({{"a", {}}, {"b\"\\\nc", {}}});
        CHECK(text.find("anytls_pool_streams_opened_total{proxy=\"a\"} 0\n"
                        "anytls_pool_streams_opened_total{proxy=\"b\\\"\\\\\\nc\"} 0\n") !=
              std::string::npos);
        CHECK(escape_label_value("x\"y") == "x\\\"y");
    }
    TEST_CASE("no proxies: only the HELP and TYPE lines") {
        const std::string text = format_prometheus_metrics({});
        CHECK(text.find("{") == std::string::npos);
        CHECK(text.find("# TYPE anytls_pool_stream_open_latency_seconds histogram") !=
              std::string::npos);
    }
}
