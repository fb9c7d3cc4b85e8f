// TimerList: the reactor's one list of timed waits (docs/DESIGN.md, "Timed waits").
//
// A wait that may end early (a Signal notified, an open cancelled) used to submit a kernel
// timeout and then cancel it, two ring requests per wake-up. The reactor instead keeps every
// such deadline here, a binary min-heap of intrusive entries, and gives the earliest one to
// io_uring_enter as its wait timeout: arming and disarming touch no ring at all. Pure logic,
// no I/O; times are whatever clock the owner reads (the reactor uses the real monotonic one,
// the one kernel timeouts run on).
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <vector>

#include "io/clock.hpp"

namespace anytls::io {

struct TimerEntry {
    using FireFn = void (*)(TimerEntry&);
    static constexpr std::size_t kNotArmed = std::numeric_limits<std::size_t>::max();

    FireFn fire = nullptr;
    void* context = nullptr;  // free for `fire`
    TimePoint at{};
    std::size_t index = kNotArmed;  // position in the heap, kNotArmed when not in it

    bool armed() const { return index != kNotArmed; }
};

class TimerList {
public:
    // Adds entry (or moves it, when armed already) to fire at `at`.
    void arm(TimerEntry& entry, TimePoint at);
    // Removes entry; nothing when it is not armed.
    void disarm(TimerEntry& entry);
    std::optional<TimePoint> earliest() const;
    // Removes and returns the earliest entry due at `now`, or null.
    TimerEntry* pop_due(TimePoint now);
    std::size_t size() const { return heap_.size(); }

private:
    void sift_up(std::size_t i);
    void sift_down(std::size_t i);
    void place(std::size_t i, TimerEntry* entry);
    std::vector<TimerEntry*> heap_;
};

}  // namespace anytls::io
