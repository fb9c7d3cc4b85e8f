// Giving idle memory back to the kernel after a burst of connections through `anytls socks`.
//
// glibc's malloc keeps the memory that freed buffers, frames and TLS objects occupied in its
// arenas, and returns only what lies at the top of a heap: after 2,000 concurrent connections
// have closed, the entry point kept half its peak RSS for good (docs/RELIABILITY.md, "Idle
// memory"). malloc_trim(0) walks every arena and releases each free page (madvise), which
// brings RSS back near its idle size.
//
// IdleMemoryTrimPolicy decides when, from the load, the free memory and the time it is given
// (no clock, no I/O: docs/DESIGN.md, "Pure logic"); free_heap_bytes and trim_free_memory measure
// and do it. The entry point asks the policy once per tick (cmd_socks.cpp).
#pragma once

#include <cstddef>

#include "io/clock.hpp"

namespace anytls::cli {

// Below this much newly freed memory a trim returns too little to be worth its walk.
inline constexpr std::size_t kWorthTrimming = std::size_t{1} << 20;

// Trims when at least kWorthTrimming has been freed since the last trim (malloc's free bytes
// grew) and the load is not near its peak: nothing open, no more open than at the last trim
// (a burst's sessions closing after its connections), or at most two thirds of the peak seen
// since the last trim (a burst ending under a steady trickle). At most once per min_interval,
// since a trim takes the arenas' locks and walks their free lists, and memory handed back is
// faulted in again when it is used.
//
// `open` is what holds memory: the entry point's connections plus its pools' sessions.
class IdleMemoryTrimPolicy {
public:
    explicit IdleMemoryTrimPolicy(io::Duration min_interval) : min_interval_(min_interval) {}

    // Called once per tick; true: trim now, then call trimmed() with the free bytes after it.
    bool should_trim(io::TimePoint now, std::size_t open, std::size_t free_bytes);
    void trimmed(io::TimePoint now, std::size_t open, std::size_t free_bytes_after);

private:
    io::Duration min_interval_;
    bool trimmed_before_ = false;
    io::TimePoint last_trim_{};
    std::size_t free_after_last_trim_ = 0;
    std::size_t open_at_last_trim_ = 0;
    std::size_t peak_since_trim_ = 0;
};

// Bytes free in malloc's arenas (mallinfo2 fordblks, all arenas); 0 without glibc.
// Thread-safe, as malloc is.
std::size_t free_heap_bytes();

struct TrimOutcome {
    std::size_t free_after = 0;  // free_heap_bytes() after the trim
    std::size_t rss_before = 0;  // resident bytes (/proc/self/statm; 0 if unreadable)
    std::size_t rss_after = 0;
    io::Duration took{};  // malloc_trim's own time, while it holds the arenas' locks
};

// malloc_trim(0); without glibc, nothing. Thread-safe (malloc takes each arena's lock).
TrimOutcome trim_free_memory();

}  // namespace anytls::cli
