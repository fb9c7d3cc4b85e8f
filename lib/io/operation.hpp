// IoOperation: the intrusive state of one io_uring request, living in the awaiting frame.
//
// As in libunifex's io_uring_context (source/linux/io_uring_context.cpp), an operation is not
// allocated: the awaiter object that a coroutine co_awaits *is* the operation, its address is the
// SQE's user_data, and it stays put (immovable) until its completion arrives. The reactor calls
// `prepare` when there is room in the rings — which may be later than the co_await, since the
// reactor never has more requests in flight than its completion queue can hold — and `on_complete`
// (or, by default, resumes `waiter`) when the CQE arrives.
#pragma once

#include <liburing.h>

#include <coroutine>

#include "io/clock.hpp"

namespace anytls::io {

class Reactor;
class CancellationSource;

struct IoOperation {
    using PrepareFn = void (*)(IoOperation&, io_uring_sqe*);
    using CompleteFn = void (*)(IoOperation&);

    IoOperation() = default;
    IoOperation(const IoOperation&) = delete;
    IoOperation& operator=(const IoOperation&) = delete;

    PrepareFn prepare = nullptr;
    CompleteFn on_complete = nullptr;  // null: resume `waiter` after the completion batch
    std::coroutine_handle<> waiter;

    // > 0: a linked IORING_OP_LINK_TIMEOUT cancels the request after this long, and the
    // result becomes -ETIMEDOUT.
    Duration timeout{0};
    CancellationSource* cancel_source = nullptr;  // optional, set before starting
    void* context = nullptr;                      // free for prepare/on_complete functions

    int result = 0;  // the CQE's res: >= 0 or -errno (after timeout/cancel mapping)
    unsigned cqe_flags = 0;

    // Reactor bookkeeping.
    enum class State : unsigned char { idle, pending, submitted, done };
    State state = State::idle;
    bool cancel_requested = false;
    __kernel_timespec timeout_spec{};
    IoOperation* next = nullptr;         // pending queue / cancel queue link
    IoOperation* cancel_prev = nullptr;  // CancellationSource registration list
    IoOperation* cancel_next = nullptr;
};

// The awaiter base: co_await starts the operation and resumes with its result.
// Derived types supply the prepare function and their own await_resume.
class OperationAwaiter : public IoOperation {
public:
    OperationAwaiter(Reactor& reactor, PrepareFn prep, Duration op_timeout = Duration{0},
                     CancellationSource* cancel = nullptr)
        : reactor_(&reactor) {
        prepare = prep;
        timeout = op_timeout;
        cancel_source = cancel;
    }
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h);
    int await_resume() const noexcept { return result; }

protected:
    Reactor* reactor_;
};

}  // namespace anytls::io
