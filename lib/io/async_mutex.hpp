// AsyncMutex: mutual exclusion between coroutines on one reactor (no OS locking).
//
// Used where two coroutines must not interleave their awaits on a shared resource: the TLS
// layer's single writer (docs/DESIGN.md, "The TLS bridge"). Unlock hands the lock directly to the
// next waiter, in FIFO order, and resumes it on the reactor's next turn. Reactor thread only.
#pragma once

#include <coroutine>
#include <deque>

#include "io/reactor.hpp"

namespace anytls::io {

class AsyncMutex {
public:
    explicit AsyncMutex(Reactor& reactor) : reactor_(&reactor) {}
    AsyncMutex(const AsyncMutex&) = delete;
    AsyncMutex& operator=(const AsyncMutex&) = delete;

    bool locked() const { return locked_; }
    bool try_lock() {
        if (locked_) return false;
        locked_ = true;
        return true;
    }

    struct LockAwaiter {
        AsyncMutex* mutex;
        bool await_ready() noexcept { return mutex->try_lock(); }
        void await_suspend(std::coroutine_handle<> h) { mutex->waiters_.push_back(h); }
        void await_resume() noexcept {}
    };
    // co_await mutex.lock(); ... mutex.unlock();
    LockAwaiter lock() { return LockAwaiter{this}; }

    void unlock() {
        if (waiters_.empty()) {
            locked_ = false;
            return;
        }
        auto next = waiters_.front();  // stays locked: ownership passes to `next`
        waiters_.pop_front();
        reactor_->schedule(next);
    }

    // RAII for the common case: auto guard = co_await mutex.scoped();
    class Guard {
    public:
        explicit Guard(AsyncMutex* m) : mutex_(m) {}
        Guard(Guard&& o) noexcept : mutex_(o.mutex_) { o.mutex_ = nullptr; }
        Guard(const Guard&) = delete;
        ~Guard() {
            if (mutex_) mutex_->unlock();
        }

    private:
        AsyncMutex* mutex_;
    };
    struct ScopedAwaiter : LockAwaiter {
        Guard await_resume() noexcept { return Guard(mutex); }
    };
    ScopedAwaiter scoped() { return ScopedAwaiter{{this}}; }

private:
    Reactor* reactor_;
    bool locked_ = false;
    std::deque<std::coroutine_handle<>> waiters_;
};

}  // namespace anytls::io
