// The traffic of `anytls demo`: bursts of streams through the client's pool to the echo
// target, each carrying a random number of random bytes that must all come back unchanged.
//
// A burst opens 1 to 8 streams at once (one thread each, so several sessions are busy
// together and the pool sometimes has to create one on demand), then the driver pauses for
// 0.1 to 1.2 s, long enough now and then for sessions to sit idle. Sizes are log-uniform from 1
// byte to 256 KiB; a writer thread sends while the stream's thread reads the echo back and
// compares every byte. The open latency of every stream is measured here, around
// Client::open_stream, and filed as warm (an idle session was reused) or cold.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "client/client.hpp"

namespace anytls::cli {

struct DemoTotals {
    std::uint64_t streams_ok = 0;
    std::uint64_t streams_failed = 0;
    std::uint64_t bytes_verified = 0;
    std::vector<double> warm_open_ms;  // every warm open, in order
    std::vector<double> cold_open_ms;
    std::string first_failure;  // a sentence; empty when none failed
};

class DemoDriver {
public:
    DemoDriver(client::Client& client, std::string proxy, std::uint16_t echo_port,
               std::uint64_t seed);

    // Runs bursts until `end` (the burst in flight then is finished). Blocks.
    void run_until(std::chrono::steady_clock::time_point end);
    // A copy, safe while run_until runs on another thread.
    DemoTotals totals() const;

private:
    void run_stream(std::uint64_t index);
    void record_failure(std::string sentence);

    client::Client& client_;
    std::string proxy_;
    std::uint16_t echo_port_;
    std::uint64_t seed_;
    std::atomic<std::uint64_t> next_stream_{0};
    mutable std::mutex mutex_;
    DemoTotals totals_;
};

// The nearest-rank percentile (0 < p <= 100) of `values`, in their unit; 0 when empty.
double percentile(std::vector<double> values, double p);

}  // namespace anytls::cli
