// PoolStats: one pool's counters as plain numbers (docs/DESIGN.md, "The session pool",
// Counters). A snapshot copied out of a SessionPool (SessionPool::stats()), so the code that
// formats or exports it (lib/inbound/metrics_text, the C ABI) needs nothing of the live pool.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace anytls::client {

// Upper bounds, in seconds, of the stream open latency histogram (PoolStats): a warm open is
// one round trip (milliseconds), a cold one adds TCP and TLS handshakes.
inline constexpr std::array<double, 12> kOpenLatencyBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                           0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

struct PoolStats {
    std::size_t idle = 0;
    std::size_t busy = 0;
    std::size_t creating = 0;
    std::uint64_t created_total = 0;
    std::uint64_t creation_failures = 0;
    std::uint64_t closed_idle = 0;       // cleanup step 1
    std::uint64_t closed_age = 0;        // cleanup step 2, or at stream end past the lifetime
    std::uint64_t closed_heartbeat = 0;  // no HeartResponse in time
    std::uint64_t closed_error = 0;      // the connection failed
    std::uint64_t closed_reset = 0;      // reset()
    std::uint64_t closed_no_reuse = 0;   // session-reuse = false
    std::uint64_t streams_opened = 0;
    std::uint64_t warm_opens = 0;     // the stream got an idle session
    std::uint64_t cold_opens = 0;     // the stream waited for a handshake
    std::uint64_t retried_opens = 0;  // transparently retried on a fresh session
    // Opens by latency (from the open_stream call to the SYNACK, the refusal or the failure
    // that decided it, on the pool's clock): open_latency_buckets[i] counts those <=
    // kOpenLatencyBounds[i] (not cumulative); the last slot counts the slower ones. Once every
    // open has been decided, the count is streams_opened.
    std::array<std::uint64_t, kOpenLatencyBounds.size() + 1> open_latency_buckets{};
    double open_latency_seconds_sum = 0;
};

}  // namespace anytls::client
