// Clock: where time comes from. The reactor and the pool ask a Clock for "now" instead of
// reading the system clock, so the pool's time-dependent rules (idle timeout, lifetime, check
// interval) are tested with a ManualClock that a test advances by hand, without sleeps.
#pragma once

#include <atomic>
#include <chrono>

namespace anytls::io {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
};

// The real monotonic clock (CLOCK_MONOTONIC through std::chrono::steady_clock).
class SteadyClock final : public Clock {
public:
    TimePoint now() const override { return std::chrono::steady_clock::now(); }
    static SteadyClock& instance();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimePoint start = TimePoint{})
        : now_ns_(start.time_since_epoch().count()) {}
    TimePoint now() const override {
        return TimePoint{Duration{now_ns_.load(std::memory_order_acquire)}};
    }
    void advance(Duration d) { now_ns_.fetch_add(d.count(), std::memory_order_acq_rel); }
    void set(TimePoint t) {
        now_ns_.store(t.time_since_epoch().count(), std::memory_order_release);
    }

private:
    std::atomic<Duration::rep> now_ns_;
};

}  // namespace anytls::io
