// Signal: one coroutine waits, with a timeout, until another part of the reactor thread says
// something changed (data arrived, room freed up, a SYNACK came in).
//
// lib/io has no condition variable, so a wait is a reactor sleep registered with a
// CancellationSource: notify() cancels the sleep, and the waiter resumes only when the
// kernel has completed the sleep (STYLE.md point 2: cancellation waits for the original
// completion). A notify() with nobody waiting is remembered, so the next wait() returns at
// once; callers re-check their condition in a loop either way. Reactor thread only; at most
// one waiter at a time; the Signal must outlive its waiter (owners keep it inside an object
// the waiting coroutine holds a shared_ptr to).
#pragma once

#include <chrono>

#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/timer.hpp"

namespace anytls::session {

class Signal {
public:
    explicit Signal(io::Reactor& reactor) : reactor_(&reactor) {}
    Signal(const Signal&) = delete;
    Signal& operator=(const Signal&) = delete;

    void notify() {
        notified_ = true;
        if (waiting_ && !waiting_->cancelled()) waiting_->cancel();
    }

    // true: notified (now or earlier); false: `timeout` passed first. Zero timeout: no limit.
    io::Task<bool> wait(io::Duration timeout) {
        if (notified_) {
            notified_ = false;
            co_return true;
        }
        io::CancellationSource cancel(*reactor_);
        waiting_ = &cancel;
        // A zero Duration would make the kernel timeout fire at once, so "no limit" is a
        // sleep long enough never to end on its own.
        const io::Duration limit = timeout > io::Duration::zero() ? timeout : io::Duration(std::chrono::hours(24 * 365));
        auto sleep = io::sleep_for(*reactor_, limit, &cancel);
        int result = co_await sleep;
        waiting_ = nullptr;
        bool was_notified = notified_ || result != 0;
        notified_ = false;
        co_return was_notified;
    }

private:
    io::Reactor* reactor_;
    io::CancellationSource* waiting_ = nullptr;
    bool notified_ = false;
};

}  // namespace anytls::session
