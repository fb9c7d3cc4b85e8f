// CancellationSource: cancels the operations and the waits registered with it.
//
// Cancelling never frees anything early: the reactor submits IORING_OP_ASYNC_CANCEL for each
// registered in-flight operation and the awaiting coroutine resumes, with -ECANCELED, only
// when the original request's completion arrives (docs/DESIGN.md, "Coroutines"). Operations started
// after cancel() complete at once with -ECANCELED. Waits that are not ring requests (a Signal, a
// name lookup, a task scope's join) register a CancelHook, called once by cancel(). Reactor thread
// only.
#pragma once

#include "io/operation.hpp"

namespace anytls::io {

// A callback run by CancellationSource::cancel(), unlinked just before it runs.
struct CancelHook {
    using Fn = void (*)(CancelHook&);
    Fn fn = nullptr;
    void* context = nullptr;  // free for `fn`
    CancelHook* prev = nullptr;
    CancelHook* next = nullptr;
    bool linked = false;
};

class CancellationSource {
public:
    explicit CancellationSource(Reactor& reactor) : reactor_(&reactor) {}
    CancellationSource(const CancellationSource&) = delete;
    CancellationSource& operator=(const CancellationSource&) = delete;
    ~CancellationSource();

    void cancel();
    bool cancelled() const { return cancelled_; }
    void reset() { cancelled_ = false; }
    Reactor& reactor() const { return *reactor_; }

    // Used by the reactor.
    void attach(IoOperation& op);
    void detach(IoOperation& op);

    // Runs hook.fn at cancel() (never here, even when cancelled already: callers check
    // cancelled() first). remove_hook() is a no-op for a hook that is not linked.
    void add_hook(CancelHook& hook);
    void remove_hook(CancelHook& hook);

private:
    Reactor* reactor_;
    IoOperation* head_ = nullptr;
    CancelHook* hooks_ = nullptr;
    bool cancelled_ = false;
};

}  // namespace anytls::io
