// CancellationSource: cancels the operations registered with it.
//
// Cancelling never frees anything early: the reactor submits IORING_OP_ASYNC_CANCEL for each
// registered in-flight operation and the awaiting coroutine resumes, with -ECANCELED, only
// when the original request's completion arrives (STYLE.md point 2). Operations started after
// cancel() complete at once with -ECANCELED. Reactor thread only.
#pragma once

#include "io/operation.hpp"

namespace anytls::io {

class CancellationSource {
public:
    explicit CancellationSource(Reactor& reactor) : reactor_(&reactor) {}
    CancellationSource(const CancellationSource&) = delete;
    CancellationSource& operator=(const CancellationSource&) = delete;
    ~CancellationSource();

    void cancel();
    bool cancelled() const { return cancelled_; }
    void reset() { cancelled_ = false; }

    // Used by the reactor.
    void attach(IoOperation& op);
    void detach(IoOperation& op);

private:
    Reactor* reactor_;
    IoOperation* head_ = nullptr;
    bool cancelled_ = false;
};

}  // namespace anytls::io
