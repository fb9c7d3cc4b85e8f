// ServerStats: one server's counters as plain numbers, and ServerMetrics, a whole
// ServerGroup's snapshot (docs/SERVER.md, "Metrics"). Plain data with no dependencies, so that
// the Prometheus text (lib/inbound/server_metrics_text) is pure and tested alone.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace anytls::server {

// Upper bounds, in seconds, of the TLS handshake latency histogram: a loopback handshake takes
// about a millisecond, one over a long path a few round trips.
inline constexpr std::array<double, 12> kHandshakeLatencyBounds{
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0};

// Application bytes of one user's sessions: received from its clients and sent to them, frames
// and padding included, after TLS.
struct UserTraffic {
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
};

struct ServerStats {
    std::uint64_t connections_accepted = 0;
    std::uint64_t sessions_authenticated = 0;
    std::uint64_t auth_failures = 0;
    std::uint64_t padding_updates_sent = 0;  // UpdatePaddingScheme frames
    std::uint64_t streams_opened = 0;
    // A SYN past max-streams-per-session, a bad or refused target address, a failed dial.
    std::uint64_t streams_refused = 0;
    std::uint64_t alerts_sent = 0;
    std::uint64_t fallbacks = 0;
    std::uint64_t connections_over_limit = 0;  // closed at once: max-sessions reached
    std::uint64_t handshake_failures = 0;
    // Completed TLS handshakes by duration: buckets[i] counts those <= bounds[i], the last
    // those above every bound.
    std::array<std::uint64_t, kHandshakeLatencyBounds.size() + 1> handshake_latency_buckets{};
    double handshake_latency_seconds_sum = 0;
    std::map<std::string, UserTraffic> traffic_by_user;  // by user name

    // Adds another server's counters (the threads of a group).
    void add(const ServerStats& other);
    // Counts one completed handshake.
    void record_handshake(double seconds);
};

// One reactor thread of a group, now.
struct ServerThreadState {
    std::size_t handshaking = 0;             // connections before or during TLS and authentication
    std::size_t sessions = 0;                // authenticated sessions
    std::uint64_t connections_accepted = 0;  // by this thread's server, since the start
};

struct ServerMetrics {
    std::vector<ServerThreadState> threads;
    ServerStats totals;
};

}  // namespace anytls::server
