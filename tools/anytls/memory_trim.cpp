// Giving idle memory back (see memory_trim.hpp).
#include "memory_trim.hpp"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#if defined(__GLIBC__)
#include <malloc.h>
#define ANYTLS_HAVE_MALLINFO2 (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#else
#define ANYTLS_HAVE_MALLINFO2 0
#endif

namespace anytls::cli {
namespace {

std::size_t resident_bytes() {
    std::FILE* file = std::fopen("/proc/self/statm", "r");
    if (file == nullptr) return 0;
    unsigned long size = 0, resident = 0;
    const bool read = std::fscanf(file, "%lu %lu", &size, &resident) == 2;
    std::fclose(file);
    return read ? resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

bool IdleMemoryTrimPolicy::should_trim(io::TimePoint now, std::size_t open,
                                       std::size_t free_bytes) {
    if (open > peak_since_trim_) peak_since_trim_ = open;
    if (free_bytes < free_after_last_trim_ + kWorthTrimming) return false;
    const bool load_dropped = open == 0 || (trimmed_before_ && open <= open_at_last_trim_) ||
                              open * 3 <= peak_since_trim_ * 2;
    if (!load_dropped) return false;
    return !trimmed_before_ || now - last_trim_ >= min_interval_;
}

void IdleMemoryTrimPolicy::trimmed(io::TimePoint now, std::size_t open,
                                   std::size_t free_bytes_after) {
    trimmed_before_ = true;
    last_trim_ = now;
    free_after_last_trim_ = free_bytes_after;
    open_at_last_trim_ = open;
    peak_since_trim_ = open;
}

std::size_t free_heap_bytes() {
#if ANYTLS_HAVE_MALLINFO2
    return mallinfo2().fordblks;
#else
    return 0;
#endif
}

TrimOutcome trim_free_memory() {
    TrimOutcome outcome;
    outcome.rss_before = resident_bytes();
    const auto started = std::chrono::steady_clock::now();
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
    outcome.took = std::chrono::steady_clock::now() - started;
    outcome.rss_after = resident_bytes();
    outcome.free_after = free_heap_bytes();
    return outcome;
}

}  // namespace anytls::cli
