// IdleMemoryTrimPolicy (tools/anytls/memory_trim.hpp): when `anytls socks` gives idle memory
// back, from the load, the free memory and the times it is given.
#include "memory_trim.hpp"

#include <doctest/doctest.h>

#include <chrono>

using anytls::cli::IdleMemoryTrimPolicy;
using anytls::cli::kWorthTrimming;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t MiB = std::size_t{1} << 20;

// The policy and a model of malloc: a trim leaves the free bytes as they are (madvise keeps
// the chunks free), as glibc's does for all but the top of a heap.
struct Entry {
    IdleMemoryTrimPolicy policy{5s};
    int trims = 0;

    bool tick(std::chrono::seconds now, std::size_t open, std::size_t free_bytes) {
        const auto at = anytls::io::TimePoint{} + now;
        if (!policy.should_trim(at, open, free_bytes)) return false;
        policy.trimmed(at, open, free_bytes);
        ++trims;
        return true;
    }
};

}  // namespace

TEST_SUITE("memory_trim") {
    TEST_CASE("little free memory is not worth a trim") {
        Entry entry;
        for (int s = 0; s < 30; ++s)
            CHECK_FALSE(entry.tick(std::chrono::seconds(s), 0, kWorthTrimming - 1));
        CHECK(entry.tick(30s, 0, kWorthTrimming));
    }

    TEST_CASE("a burst is trimmed once it is over, and not again until more is freed") {
        Entry entry;
        CHECK_FALSE(entry.tick(1s, 300, 2 * MiB));   // under load, whatever is free
        CHECK_FALSE(entry.tick(2s, 250, 20 * MiB));  // still near the peak
        CHECK(entry.tick(3s, 0, 40 * MiB));          // over
        for (int s = 4; s < 60; ++s) CHECK_FALSE(entry.tick(std::chrono::seconds(s), 0, 40 * MiB));
        CHECK_FALSE(entry.tick(60s, 0, 40 * MiB + kWorthTrimming - 1));
        CHECK(entry.tick(61s, 0, 40 * MiB + kWorthTrimming));
    }

    TEST_CASE("the burst's connections go first, its idle sessions later, freed over seconds") {
        // 2,000 connections on 2,000 sessions, 5 warm sessions kept: open counts both.
        Entry entry;
        CHECK_FALSE(entry.tick(1s, 4005, 1 * MiB));
        CHECK(entry.tick(2s, 2005, 12 * MiB));        // the connections closed
        CHECK_FALSE(entry.tick(3s, 2005, 12 * MiB));  // sessions idle, nothing new freed
        CHECK(entry.tick(33s, 5, 14 * MiB));          // the idle timeout closes the sessions...
        CHECK_FALSE(entry.tick(34s, 5, 30 * MiB));    // ...whose memory goes over the next seconds
        CHECK(entry.tick(38s, 5, 40 * MiB));          // and is trimmed too, min_interval later
        CHECK_FALSE(entry.tick(43s, 5, 40 * MiB));
        CHECK(entry.trims == 3);
    }

    TEST_CASE("trims are at least min_interval apart") {
        Entry entry;
        CHECK(entry.tick(1s, 0, 2 * MiB));
        CHECK_FALSE(entry.tick(2s, 0, 10 * MiB));
        CHECK_FALSE(entry.tick(5s, 0, 10 * MiB));
        CHECK(entry.tick(6s, 0, 10 * MiB));
    }

    TEST_CASE("a rising load is not trimmed until it falls again") {
        Entry entry;
        CHECK_FALSE(entry.tick(1s, 100, 2 * MiB));  // at its peak
        CHECK(entry.tick(2s, 10, 2 * MiB));
        // Load grows past what was open at that trim: memory freed meanwhile (churn) is left.
        for (int s = 10; s < 40; ++s)
            CHECK_FALSE(entry.tick(std::chrono::seconds(s), 100, 10 * MiB));
        CHECK(entry.tick(40s, 60, 10 * MiB));  // two thirds of the peak
    }
}
