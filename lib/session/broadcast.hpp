// Broadcast: any number of coroutines wait, with a timeout, until another part of the reactor
// thread says something changed; notify_all() wakes every one of them.
//
// Signal allows one waiter. Where several can wait on one fact (a stream's open resolving,
// awaited by a blocking open and by a write past the replay bound; a replay in progress,
// awaited by a read and a write of the same stream), each waiter registers a Signal of its
// own here. Waiters re-check their condition in a loop: a notify_all() with nobody waiting is
// not remembered. Reactor thread only; the Broadcast must outlive its waiters.
#pragma once

#include <algorithm>
#include <vector>

#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/signal.hpp"

namespace anytls::session {

class Broadcast {
public:
    explicit Broadcast(io::Reactor& reactor) : reactor_(&reactor) {}
    Broadcast(const Broadcast&) = delete;
    Broadcast& operator=(const Broadcast&) = delete;

    void notify_all() {
        for (io::Signal* waiter : waiters_) waiter->notify();
    }

    // true: notified; false: `timeout` passed first, or `cancel` was cancelled. Zero
    // timeout: no limit.
    io::Task<bool> wait(io::Duration timeout, io::CancellationSource* cancel = nullptr) {
        io::Signal mine(*reactor_);
        waiters_.push_back(&mine);
        bool woken = co_await mine.wait(timeout, cancel);
        waiters_.erase(std::find(waiters_.begin(), waiters_.end(), &mine));
        co_return woken;
    }

private:
    io::Reactor* reactor_;
    std::vector<io::Signal*> waiters_;
};

}  // namespace anytls::session
