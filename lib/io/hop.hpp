// Moving a coroutine between reactors (docs/DESIGN.md, "Threads": a client's sessions live on
// several reactors while its pools decide on one).
//
// `co_await io::resume_on(r)` continues the coroutine on r's thread: it posts the resumption
// to r (Reactor::post, the one way in from other threads) and suspends, or goes on at once
// when it already runs there. A coroutine that hops away hops back before it returns, so its
// caller resumes on the reactor it called from: the rule every cross-reactor function here
// keeps. The target must be running until the coroutine has hopped back.
//
// CancellationRelay carries a cancellation across: a CancellationSource belongs to one
// reactor, so an operation that runs on another reactor gets a source of its own there, and
// cancelling the origin posts that source's cancel() to it.
#pragma once

#include <coroutine>
#include <memory>

#include "io/cancellation.hpp"
#include "io/reactor.hpp"

namespace anytls::io {

struct ResumeOn {
    Reactor* target;
    bool await_ready() const noexcept { return Reactor::current() == target; }
    void await_suspend(std::coroutine_handle<> handle) {
        target->post([handle] { handle.resume(); });
    }
    void await_resume() const noexcept {}
};

inline ResumeOn resume_on(Reactor& target) { return ResumeOn{&target}; }

// Made and destroyed on the origin's reactor; source() is used on the target's.
class CancellationRelay {
public:
    // origin null: a source that nothing cancels from afar.
    CancellationRelay(CancellationSource* origin, Reactor& target);
    ~CancellationRelay();
    CancellationRelay(const CancellationRelay&) = delete;
    CancellationRelay& operator=(const CancellationRelay&) = delete;

    // The target reactor's source. When the origin is the target reactor's own, it is the
    // origin itself (nothing crosses).
    CancellationSource* source() { return same_reactor_ ? origin_ : &shared_->source; }

private:
    struct Shared {
        explicit Shared(Reactor& target) : reactor(&target), source(target) {}
        Reactor* reactor;
        CancellationSource source;
    };
    static void forward(CancelHook& hook);

    CancellationSource* origin_;
    bool same_reactor_;
    std::shared_ptr<Shared> shared_;
    CancelHook hook_;
};

}  // namespace anytls::io
