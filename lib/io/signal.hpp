// Signal: one coroutine waits, with a timeout, until another part of the reactor thread says
// something changed (data arrived, room freed up, a SYNACK came in).
//
// lib/io has no condition variable, so a wait parks the coroutine and arms an entry of the
// reactor's timer list (docs/DESIGN.md, "Timed waits"): notify() disarms it and schedules the
// waiter, with no ring request either way. A notify() with nobody waiting is remembered, so
// the next wait() returns at once; callers re-check their condition in a loop either way.
// A wait may also end when a CancellationSource is cancelled (a pool or client shutting
// down, an open given up by its caller). Reactor thread only; at most one waiter at a time;
// the Signal must outlive its waiter (owners keep it inside an object the waiting coroutine
// holds a shared_ptr to).
#pragma once

#include <coroutine>

#include "io/cancellation.hpp"
#include "io/clock.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/timer.hpp"
#include "io/timer_list.hpp"

namespace anytls::io {

class Signal {
public:
    explicit Signal(io::Reactor& reactor) : reactor_(&reactor) {
        timer_.fire = &on_timer;
        timer_.context = this;
        hook_.fn = &on_cancel;
        hook_.context = this;
    }
    Signal(const Signal&) = delete;
    Signal& operator=(const Signal&) = delete;
    ~Signal() { unregister(); }

    void notify() {
        notified_ = true;
        wake();
    }

    // true: notified (now or earlier); false: `timeout` passed first, or `cancel` was
    // cancelled (before or during the wait). Zero timeout: no limit.
    io::Task<bool> wait(io::Duration timeout, io::CancellationSource* cancel = nullptr) {
        if (!notified_ && !(cancel && cancel->cancelled())) {
            Parked parked{this, timeout, cancel};
            co_await parked;
        }
        const bool was_notified = notified_;
        notified_ = false;
        co_return was_notified;
    }

private:
    struct Parked {
        Signal* signal;
        io::Duration timeout;
        io::CancellationSource* cancel;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) {
            signal->waiter_ = h;
            if (timeout > io::Duration::zero()) {
                signal->reactor_->arm_timer(signal->timer_,
                                            io::SteadyClock::instance().now() + timeout);
            }
            if (cancel) {
                signal->cancel_ = cancel;
                cancel->add_hook(signal->hook_);
            }
        }
        void await_resume() const noexcept {}
    };

    static void on_timer(io::TimerEntry& entry) { static_cast<Signal*>(entry.context)->wake(); }
    static void on_cancel(io::CancelHook& hook) { static_cast<Signal*>(hook.context)->wake(); }

    void unregister() {
        reactor_->disarm_timer(timer_);
        if (cancel_) cancel_->remove_hook(hook_);
        cancel_ = nullptr;
    }

    // Resumes the waiter on the reactor's next turn, whatever ended its wait.
    void wake() {
        if (!waiter_) return;
        unregister();
        auto waiter = waiter_;
        waiter_ = {};
        reactor_->schedule(waiter);
    }

    io::Reactor* reactor_;
    std::coroutine_handle<> waiter_;
    io::TimerEntry timer_;
    io::CancelHook hook_;
    io::CancellationSource* cancel_ = nullptr;
    bool notified_ = false;
};

}  // namespace anytls::io
