// TaskScope: detached coroutines with an owner that can stop them and wait for them to end
// (docs/DESIGN.md, "Shutdown"), after cppcoro's async_scope and libunifex's async_scope.
//
// Whatever runs in the background on behalf of an object (a pool's creations, heartbeats and
// cleanup cycle; a server's connections; a client's blocking calls and fd relays) is spawned
// into that object's scope. cancel() cancels the scope's CancellationSource, which the tasks
// pass to their waits (sockets, timers, Signals, name lookups, handshakes): each wait ends at
// once and the task unwinds. `co_await scope.join()` resumes when the last task has ended, so
// the owner is destroyed only after nothing refers to it: no polling of counters, no grace
// constants. Reactor thread only; the scope must be joined (or empty) before it is destroyed.
#pragma once

#include <coroutine>
#include <cstddef>
#include <vector>

#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"

namespace anytls::io {

class TaskScope {
public:
    explicit TaskScope(Reactor& reactor) : reactor_(&reactor), cancel_(reactor) {}
    TaskScope(const TaskScope&) = delete;
    TaskScope& operator=(const TaskScope&) = delete;
    // Tasks still running would touch freed memory: this logs it (a bug in the owner).
    ~TaskScope();

    // Runs task detached, counted in live(). A task spawned after cancel() starts with its
    // cancellation already requested.
    void spawn(Task<void> task);
    // Asks every task to stop: cancels cancellation(). Idempotent.
    void cancel() { cancel_.cancel(); }
    bool cancelled() const { return cancel_.cancelled(); }
    CancellationSource& cancellation() { return cancel_; }
    std::size_t live() const { return live_; }

    struct JoinAwaiter {
        TaskScope* scope;
        bool await_ready() const noexcept { return scope->live_ == 0; }
        void await_suspend(std::coroutine_handle<> h) { scope->joiners_.push_back(h); }
        void await_resume() const noexcept {}
    };
    // Resumes once live() is zero (at once when it is already).
    JoinAwaiter join() { return JoinAwaiter{this}; }

private:
    static Task<void> run(Task<void> task, TaskScope* scope);
    void finished();

    Reactor* reactor_;
    CancellationSource cancel_;
    std::size_t live_ = 0;
    std::vector<std::coroutine_handle<>> joiners_;
};

}  // namespace anytls::io
