// RandomSource: where the padding scheme draws its sizes from (padding_scheme.hpp).
//
// Injected rather than built in, so proto stays free of hidden state and tests can fix the
// draws. The references draw from crypto/rand (rand.Int(rand.Reader, big.NewInt(max-min))),
// a uniform integer in [0, max-min).
#pragma once

#include <cstdint>
#include <functional>

namespace anytls::proto {

// Called with bound >= 1; must return a value uniform in [0, bound).
using RandomSource = std::function<std::uint64_t(std::uint64_t bound)>;

// A source backed by std::random_device (libstdc++: a hardware or kernel random source), with
// rejection sampling so every value is equally likely. Thread-safe: each call may be made from
// any thread.
RandomSource system_random_source();

}  // namespace anytls::proto
