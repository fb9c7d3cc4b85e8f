// The server's Prometheus text (lib/inbound/server_metrics_text): exact lines for a known
// snapshot, so a renamed metric or a broken histogram shows here and not in a dashboard.
#include <doctest/doctest.h>

#include <string>

#include "inbound/server_metrics_text.hpp"
#include "server/server_stats.hpp"

using namespace anytls;

namespace {
bool has_line(const std::string& text, const std::string& line) {
    return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}
}  // namespace

TEST_SUITE("server metrics text") {
    TEST_CASE("threads by state, counters, per-user bytes and the handshake histogram") {
        server::ServerMetrics metrics;
        metrics.threads = {{.handshaking = 2, .sessions = 5}, {.handshaking = 0, .sessions = 4}};
        auto& t = metrics.totals;
        t.connections_accepted = 12;
        t.auth_failures = 3;
        t.fallbacks = 1;
        t.streams_opened = 40;
        t.streams_refused = 2;
        t.connections_over_limit = 1;
        t.sessions_authenticated = 9;
        t.traffic_by_user["alice"] = {.bytes_in = 100, .bytes_out = 2000};
        t.traffic_by_user["b\"ob"] = {.bytes_in = 7, .bytes_out = 0};
        // 0.0005 s and 0.001 s fall in le="0.001"; 0.3 s in le="0.5"; 7 s above every bound.
        t.handshake_latency_buckets[0] = 2;
        t.handshake_latency_buckets[8] = 1;
        t.handshake_latency_buckets[12] = 1;
        t.handshake_latency_seconds_sum = 7.3015;

        const std::string text = inbound::format_server_metrics(metrics);
        CHECK(has_line(text, "# TYPE anytls_server_connections gauge"));
        CHECK(has_line(text, "anytls_server_connections{thread=\"0\",state=\"handshaking\"} 2"));
        CHECK(has_line(text, "anytls_server_connections{thread=\"0\",state=\"authenticated\"} 5"));
        CHECK(has_line(text, "anytls_server_connections{thread=\"1\",state=\"handshaking\"} 0"));
        CHECK(has_line(text, "anytls_server_connections{thread=\"1\",state=\"authenticated\"} 4"));
        CHECK(has_line(text, "anytls_server_connections_accepted_total 12"));
        CHECK(has_line(text, "anytls_server_connections_over_limit_total 1"));
        CHECK(has_line(text, "anytls_server_sessions_total 9"));
        CHECK(has_line(text, "anytls_server_auth_failures_total 3"));
        CHECK(has_line(text, "anytls_server_fallbacks_total 1"));
        CHECK(has_line(text, "anytls_server_streams_opened_total 40"));
        CHECK(has_line(text, "anytls_server_streams_refused_total 2"));
        CHECK(
            has_line(text, "anytls_server_user_bytes_total{user=\"alice\",direction=\"in\"} 100"));
        CHECK(has_line(text,
                       "anytls_server_user_bytes_total{user=\"alice\",direction=\"out\"} 2000"));
        CHECK(
            has_line(text, "anytls_server_user_bytes_total{user=\"b\\\"ob\",direction=\"in\"} 7"));
        CHECK(has_line(text, "# TYPE anytls_server_handshake_seconds histogram"));
        CHECK(has_line(text, "anytls_server_handshake_seconds_bucket{le=\"0.001\"} 2"));
        CHECK(has_line(text, "anytls_server_handshake_seconds_bucket{le=\"0.25\"} 2"));
        CHECK(has_line(text, "anytls_server_handshake_seconds_bucket{le=\"0.5\"} 3"));
        CHECK(has_line(text, "anytls_server_handshake_seconds_bucket{le=\"5\"} 3"));
        CHECK(has_line(text, "anytls_server_handshake_seconds_bucket{le=\"+Inf\"} 4"));
        CHECK(has_line(text, "anytls_server_handshake_seconds_sum 7.3015"));
        CHECK(has_line(text, "anytls_server_handshake_seconds_count 4"));
        // Every sample's metric has its HELP and TYPE before it.
        CHECK(text.find("# HELP anytls_server_streams_refused_total ") <
              text.find("anytls_server_streams_refused_total 2"));
    }

    TEST_CASE("record_handshake and add: the buckets the text shows") {
        server::ServerStats a, b;
        a.record_handshake(0.0005);
        a.record_handshake(0.001);  // a bound is inclusive (le)
        b.record_handshake(0.3);
        b.record_handshake(7.0);
        b.traffic_by_user["alice"] = {.bytes_in = 1, .bytes_out = 2};
        a.traffic_by_user["alice"] = {.bytes_in = 10, .bytes_out = 20};
        a.add(b);
        CHECK(a.handshake_latency_buckets[0] == 2);
        CHECK(a.handshake_latency_buckets[8] == 1);
        CHECK(a.handshake_latency_buckets[12] == 1);
        CHECK(a.handshake_latency_seconds_sum == doctest::Approx(7.3015));
        CHECK(a.traffic_by_user["alice"].bytes_in == 11);
        CHECK(a.traffic_by_user["alice"].bytes_out == 22);
    }
}
