// Shared helpers of the fuzz targets (tools/fuzz/*_fuzz.cpp): reading structured values from
// the front of a fuzz input, choosing cut points, a deterministic RandomSource, and the check
// that stops the run on a broken invariant.
//
// Every target is built twice: by tools/fuzz/run with clang -fsanitize=fuzzer (libFuzzer
// mutates the inputs), and by tests/fuzz/meson.build with the project compiler and a small
// driver that replays the seed corpus (tests/fuzz/corpus/<target>/), so a regression shows up
// in the normal test suite. The input layouts documented in each target are what
// tools/fuzz/make-seeds writes; keep the two in step.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "proto/random_source.hpp"

namespace anytls::fuzz {

// A broken invariant: say which one, then abort so libFuzzer records the input as a crash
// (and the corpus driver's test fails).
[[noreturn]] inline void invariant_broken(const char* condition, const char* file, int line) {
    std::fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, condition);
    std::fflush(stderr);
    std::abort();
}

#define FUZZ_CHECK(condition)                                                               \
    do {                                                                                    \
        if (!(condition)) ::anytls::fuzz::invariant_broken(#condition, __FILE__, __LINE__); \
    } while (0)

// Reads values from the front of the input. Reading past the end yields zeros (or a shorter
// span), so every byte string is a valid input.
class FuzzInput {
public:
    FuzzInput(const std::uint8_t* data, std::size_t size) : rest_(data, size) {}

    std::uint8_t take_u8() {
        if (rest_.empty()) return 0;
        const std::uint8_t value = rest_.front();
        rest_ = rest_.subspan(1);
        return value;
    }
    // Big-endian, like every length on the wire.
    std::uint16_t take_u16() {
        const std::uint16_t high = take_u8();
        return static_cast<std::uint16_t>((high << 8) | take_u8());
    }
    std::span<const std::uint8_t> take_bytes(std::size_t count) {
        const std::size_t n = std::min(count, rest_.size());
        const auto taken = rest_.first(n);
        rest_ = rest_.subspan(n);
        return taken;
    }
    std::string_view take_text(std::size_t count) {
        const auto bytes = take_bytes(count);
        return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    }
    std::span<const std::uint8_t> rest() const { return rest_; }
    std::size_t remaining() const { return rest_.size(); }

private:
    std::span<const std::uint8_t> rest_;
};

inline std::string_view as_text(std::span<const std::uint8_t> bytes) {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Cuts a stream of `size` bytes into chunks at the given raw positions (taken modulo
// size + 1, so any value is usable). Returns the chunk boundaries, sorted, starting with 0
// and ending with size; empty chunks are allowed (a read of 0 bytes must change nothing).
// The same, into `bounds` (its contents replaced; a target can keep one vector for all runs).
inline void chunk_bounds(std::span<const std::uint16_t> raw_cuts, std::size_t size,
                         std::vector<std::size_t>& bounds) {
    bounds.assign({0, size});
    for (const std::uint16_t cut : raw_cuts) bounds.push_back(cut % (size + 1));
    std::sort(bounds.begin(), bounds.end());
}
inline std::vector<std::size_t> chunk_bounds(std::span<const std::uint16_t> raw_cuts,
                                             std::size_t size) {
    std::vector<std::size_t> bounds;
    chunk_bounds(raw_cuts, size, bounds);
    return bounds;
}

// Reads the common "cut count + cut positions" prefix: one byte whose low 4 bits are the
// number of cuts, then that many u16 positions. Returns the flag bits (the high 4 bits).
inline std::uint8_t take_cuts(FuzzInput& input, std::vector<std::uint16_t>& cuts) {
    const std::uint8_t head = input.take_u8();
    const std::size_t count = head & 0x0f;
    for (std::size_t i = 0; i < count; ++i) cuts.push_back(input.take_u16());
    return static_cast<std::uint8_t>(head >> 4);
}

// A RandomSource that draws from bytes of the fuzz input: each draw reads the next 8 bytes
// (cycling; all zeros when there are none) and reduces them modulo the bound. Two sources
// built from the same bytes give the same draws, which is how the targets compare a function
// against its spelled-out definition. The bytes are not copied: they must outlive the source
// (they are the fuzz input, which lives for the whole run).
//
// The lambda holds a pointer and two 32-bit counts, 16 bytes: std::function (libstdc++) keeps
// a callable that small in place instead of allocating it, and targets make several sources
// per run (docs/RELIABILITY.md, Fuzzing). A fuzz input is far below 4 GiB.
inline proto::RandomSource input_random_source(std::span<const std::uint8_t> bytes) {
    return [data = bytes.data(), size = static_cast<std::uint32_t>(bytes.size()),
            position = std::uint32_t{0}](std::uint64_t bound) mutable -> std::uint64_t {
        if (bound == 0) invariant_broken("RandomSource called with bound 0", __FILE__, __LINE__);
        std::uint64_t value = 0;
        if (size != 0) {
            for (int i = 0; i < 8; ++i) {
                value = (value << 8) | data[position];
                position = (position + 1) % size;
            }
        }
        return value % bound;
    };
}

}  // namespace anytls::fuzz
