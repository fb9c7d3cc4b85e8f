// The default RandomSource (see random_source.hpp).
#include "proto/random_source.hpp"

#include <random>

namespace anytls::proto {

namespace {

std::uint64_t random_below(std::uint64_t bound) {
    // One random_device per thread: its reads are independent and need no lock.
    thread_local std::random_device device;
    const auto draw64 = [] { return (std::uint64_t{device()} << 32) | std::uint64_t{device()}; };
    if (bound <= 1) return 0;
    // Reject the top partial block so the result is exactly uniform (the bias would be tiny
    // for padding sizes, but it costs nothing to be exact).
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    std::uint64_t value = draw64();
    while (value >= limit) value = draw64();
    return value % bound;
}

}  // namespace

RandomSource system_random_source() { return random_below; }

}  // namespace anytls::proto
