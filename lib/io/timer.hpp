// Timers: sleeping on the reactor, and deadlines for composite operations.
//
// A single operation gets a timeout through IoOperation::timeout (a linked timeout in the
// ring). An operation made of several (a TLS handshake: many reads and writes) uses a
// Deadline and gives each step the time that is left.
#pragma once

#include <cerrno>

#include "io/cancellation.hpp"
#include "io/operation.hpp"
#include "io/reactor.hpp"

namespace anytls::io {

// co_await sleep_for(reactor, 50ms): 0 when the time has passed, -ECANCELED if cancelled.
class SleepOperation : public OperationAwaiter {
public:
    SleepOperation(Reactor& reactor, Duration d, CancellationSource* cancel = nullptr)
        : OperationAwaiter(reactor, &prepare_sleep, Duration{0}, cancel) {
        if (d < Duration::zero()) d = Duration::zero();
        spec_.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(d).count();
        spec_.tv_nsec = (d - std::chrono::seconds(spec_.tv_sec)).count();
    }
    int await_resume() const noexcept { return result == -ETIME ? 0 : result; }

private:
    static void prepare_sleep(IoOperation& op, io_uring_sqe* sqe) {
        auto& self = static_cast<SleepOperation&>(op);
        io_uring_prep_timeout(sqe, &self.spec_, 0, 0);
    }
    __kernel_timespec spec_{};
};

inline SleepOperation sleep_for(Reactor& reactor, Duration d,
                                CancellationSource* cancel = nullptr) {
    return SleepOperation(reactor, d, cancel);
}

// A point in time by which a composite operation must finish. Uses the real monotonic
// clock: kernel timeouts run on it, so a ManualClock would not make them fire.
class Deadline {
public:
    static Deadline after(Duration d) { return Deadline(SteadyClock::instance().now() + d); }
    static Deadline never() { return Deadline(TimePoint::max()); }
    explicit Deadline(TimePoint at) : at_(at) {}

    bool is_never() const { return at_ == TimePoint::max(); }
    bool expired() const { return !is_never() && SteadyClock::instance().now() >= at_; }
    // What is left, at least 1ns so that it still arms a timeout; zero means "no timeout".
    Duration remaining() const {
        if (is_never()) return Duration::zero();
        auto left = at_ - SteadyClock::instance().now();
        return left > Duration::zero() ? left : Duration{1};
    }

private:
    TimePoint at_;
};

}  // namespace anytls::io
