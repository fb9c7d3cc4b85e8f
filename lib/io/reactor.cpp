// The io_uring loop (see reactor.hpp for the design).
#include "io/reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cassert>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include "io/cancellation.hpp"
#include "log/log.hpp"

namespace anytls::io {

namespace {

thread_local Reactor* t_current = nullptr;

void set_timespec(__kernel_timespec& ts, Duration d) {
    if (d < Duration::zero()) d = Duration::zero();
    ts.tv_sec = std::chrono::duration_cast<std::chrono::seconds>(d).count();
    ts.tv_nsec = (d - std::chrono::seconds(ts.tv_sec)).count();
}

detail::DetachedTask detached_driver(Task<void> task, Reactor* reactor) {
    try {
        co_await std::move(task);
    } catch (const std::exception& e) {
        log::error("detached task failed: {}", e.what());
    } catch (...) {
        log::error("detached task failed with an unknown exception");
    }
    reactor->task_finished();
}

void prepare_wakeup_read(IoOperation& op, io_uring_sqe* sqe) {
    auto* wakeup = static_cast<Reactor::Wakeup*>(op.context);
    io_uring_prep_read(sqe, wakeup->fd, &wakeup->value, sizeof(wakeup->value), 0);
}

}  // namespace

void OperationAwaiter::await_suspend(std::coroutine_handle<> h) {
    waiter = h;
    reactor_->start(*this);
}

Reactor::Reactor() : Reactor(Options{}) {}

Reactor::Reactor(const Options& options)
    : clock_(options.clock ? options.clock : &SteadyClock::instance()) {
    io_uring_params params{};
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
    params.cq_entries = options.completion_entries;
    int rc = io_uring_queue_init_params(options.submission_entries, &ring_, &params);
    if (rc == -EINVAL) {
        // Kernels before 6.1 lack DEFER_TASKRUN; the ring works the same without it.
        params = io_uring_params{};
        params.flags = IORING_SETUP_CQSIZE;
        params.cq_entries = options.completion_entries;
        rc = io_uring_queue_init_params(options.submission_entries, &ring_, &params);
    } else if (rc == 0) {
        defer_taskrun_ = true;
    }
    if (rc < 0) {
        throw std::runtime_error("io_uring_queue_init failed: " + std::string(std::strerror(-rc)) +
                                 " (is io_uring disabled by the kernel or a seccomp policy?)");
    }
    cq_capacity_ = params.cq_entries;
    wakeup_.fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wakeup_.fd < 0) {
        int err = errno;
        io_uring_queue_exit(&ring_);
        throw std::runtime_error("eventfd failed: " + std::string(std::strerror(err)));
    }
    arm_wakeup();
}

Reactor::~Reactor() {
    post_gate_->close();  // a name lookup finishing from now on posts nowhere
    if (in_flight_cqes_ > 1 || pending_count_ > 0 || live_tasks_ > 0) {
        log::debug("reactor destroyed with {} requests in flight, {} queued, {} live tasks",
                   in_flight_cqes_ - 1, pending_count_, live_tasks_);
    }
    io_uring_queue_exit(&ring_);
    std::lock_guard lock(posted_mutex_);  // no post() is still writing to the eventfd (see post)
    ::close(wakeup_.fd);
}

Reactor* Reactor::current() { return t_current; }

void Reactor::arm_wakeup() {
    // The eventfd read is the reactor's own operation; its completion is handled in
    // handle_completion, which re-arms it.
    wake_op_.context = &wakeup_;
    wake_op_.prepare = prepare_wakeup_read;
    start(wake_op_);
}

io_uring_sqe* Reactor::get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
        io_uring_submit(&ring_);  // the SQ is full of prepared entries: hand them over
        sqe = io_uring_get_sqe(&ring_);
    }
    return sqe;
}

bool Reactor::try_submit(IoOperation& op) {
    const unsigned needed = op.timeout > Duration::zero() ? 2 : 1;
    if (in_flight_cqes_ + needed > cq_capacity_) return false;
    if (io_uring_sq_space_left(&ring_) < needed) {
        io_uring_submit(&ring_);
        if (io_uring_sq_space_left(&ring_) < needed) return false;
    }
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    op.prepare(op, sqe);
    io_uring_sqe_set_data(sqe, &op);
    if (needed == 2) {
        sqe->flags |= IOSQE_IO_LINK;
        set_timespec(op.timeout_spec, op.timeout);
        io_uring_sqe* tsqe = io_uring_get_sqe(&ring_);
        io_uring_prep_link_timeout(tsqe, &op.timeout_spec, 0);
        io_uring_sqe_set_data(tsqe, nullptr);  // its completion is ignored
    }
    in_flight_cqes_ += needed;
    op.state = IoOperation::State::submitted;
    return true;
}

void Reactor::start(IoOperation& op) {
    assert(op.state == IoOperation::State::idle || op.state == IoOperation::State::done);
    op.result = 0;
    op.cqe_flags = 0;
    op.cancel_requested = false;
    op.next = nullptr;
    if (op.cancel_source) {
        if (op.cancel_source->cancelled()) {
            op.state = IoOperation::State::done;
            op.result = -ECANCELED;
            complete(op);
            return;
        }
        op.cancel_source->attach(op);
    }
    if (pending_head_ == nullptr && try_submit(op)) return;
    op.state = IoOperation::State::pending;
    if (pending_tail_)
        pending_tail_->next = &op;
    else
        pending_head_ = &op;
    pending_tail_ = &op;
    ++pending_count_;
}

bool Reactor::submit_cancel(IoOperation& target) {
    if (in_flight_cqes_ + 1 > cq_capacity_) return false;
    io_uring_sqe* sqe = get_sqe();
    if (!sqe) return false;
    io_uring_prep_cancel(sqe, &target, 0);
    io_uring_sqe_set_data(sqe, nullptr);
    ++in_flight_cqes_;
    return true;
}

void Reactor::cancel(IoOperation& op) {
    if (op.state == IoOperation::State::pending) {
        // Never reached the kernel: unlink and complete it here.
        IoOperation** link = &pending_head_;
        IoOperation* prev = nullptr;
        while (*link && *link != &op) {
            prev = *link;
            link = &(*link)->next;
        }
        if (*link == &op) {
            *link = op.next;
            if (pending_tail_ == &op) pending_tail_ = prev;
            --pending_count_;
        }
        op.state = IoOperation::State::done;
        op.result = -ECANCELED;
        op.cancel_requested = true;
        complete(op);
        return;
    }
    if (op.state != IoOperation::State::submitted || op.cancel_requested) return;
    op.cancel_requested = true;
    if (!submit_cancel(op)) pending_cancels_.push_back(&op);
}

void Reactor::flush_pending() {
    while (!pending_cancels_.empty()) {
        if (!submit_cancel(*pending_cancels_.front())) return;
        pending_cancels_.erase(pending_cancels_.begin());
    }
    while (pending_head_) {
        IoOperation& op = *pending_head_;
        if (!try_submit(op)) return;
        pending_head_ = op.next;
        if (!pending_head_) pending_tail_ = nullptr;
        op.next = nullptr;
        --pending_count_;
    }
}

void Reactor::complete(IoOperation& op) {
    if (op.cancel_source) op.cancel_source->detach(op);
    if (op.on_complete)
        op.on_complete(op);
    else
        ready_.push_back(op.waiter);
}

void Reactor::handle_completion(io_uring_cqe* cqe) {
    if (cqe->user_data == LIBURING_UDATA_TIMEOUT)
        return;  // liburing's own wait timeout (old kernels)
    auto* op = static_cast<IoOperation*>(io_uring_cqe_get_data(cqe));
    const bool more = cqe->flags & IORING_CQE_F_MORE;
    if (!more) --in_flight_cqes_;
    if (op == nullptr) return;  // a linked timeout or a cancel request
    if (op == &wake_op_) {
        wake_op_.state = IoOperation::State::done;
        arm_wakeup();
        return;
    }
    int res = cqe->res;
    if (res == -ECANCELED && !op->cancel_requested && op->timeout > Duration::zero()) {
        res = -ETIMEDOUT;  // cancelled by its linked timeout
    }
    op->result = res;
    op->cqe_flags = cqe->flags;
    if (more) {
        if (op->on_complete) op->on_complete(*op);
        return;
    }
    op->state = IoOperation::State::done;
    if (op->cancel_requested) {
        for (auto it = pending_cancels_.begin(); it != pending_cancels_.end(); ++it) {
            if (*it == op) {
                pending_cancels_.erase(it);
                break;
            }
        }
    }
    complete(*op);
}

void Reactor::schedule(std::coroutine_handle<> h) { ready_.push_back(h); }

void Reactor::fire_due_timers() {
    if (timers_.size() == 0) return;
    const TimePoint now = SteadyClock::instance().now();
    while (TimerEntry* due = timers_.pop_due(now)) due->fire(*due);
}

void Reactor::spawn(Task<void> task) {
    ++live_tasks_;
    auto driver = detached_driver(std::move(task), this);
    schedule(driver.handle);
}

// The eventfd write happens under posted_mutex_: the reactor runs `fn` only after taking the
// mutex, so once `fn` has run the poster no longer touches the reactor, and the reactor may be
// destroyed (its destructor closes the eventfd under the same mutex). Writing after unlocking
// let a poster that lost the race write to a closed (or already reused) fd number of a freed
// reactor: a helper thread finishing a name resolution while its client shut down (found by
// ThreadSanitizer in the C ABI test).
void Reactor::post(std::function<void()> fn) {
    std::lock_guard lock(posted_mutex_);
    const bool wake = posted_.empty();
    posted_.push_back(std::move(fn));
    if (wake) {
        std::uint64_t one = 1;
        [[maybe_unused]] ssize_t n = ::write(wakeup_.fd, &one, sizeof(one));
    }
}

bool PostGate::post(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    if (!reactor_) return false;
    reactor_->post(std::move(fn));
    return true;
}

void PostGate::close() {
    std::lock_guard lock(mutex_);
    reactor_ = nullptr;
}

void Reactor::stop() {
    stop_requested_.store(true, std::memory_order_release);
    std::lock_guard lock(posted_mutex_);
    std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wakeup_.fd, &one, sizeof(one));
}

bool Reactor::run_posted() {
    {
        std::lock_guard lock(posted_mutex_);
        if (posted_.empty()) return false;
        running_posted_.swap(posted_);
    }
    for (auto& fn : running_posted_) fn();
    running_posted_.clear();
    return true;
}

void Reactor::run_once(bool may_block) {
    Reactor* previous = t_current;
    t_current = this;

    // Posted work may resume a coroutine that a caller of run_once() waits for (one that
    // hopped here from another reactor, io/hop.hpp): the turn must not then block.
    const bool ran_posted = run_posted();
    flush_pending();

    bool wait = may_block && !ran_posted && ready_.empty();
    if (wait) {
        std::lock_guard lock(posted_mutex_);
        wait = posted_.empty();
    }
    int rc;
    if (!wait) {
        rc = io_uring_submit_and_get_events(&ring_);
    } else if (auto earliest = timers_.earliest()) {
        // The wait ends at the earliest timed wait (docs/DESIGN.md, "Timed waits").
        __kernel_timespec ts{};
        set_timespec(ts, *earliest - SteadyClock::instance().now());
        io_uring_cqe* first = nullptr;
        rc = io_uring_submit_and_wait_timeout(&ring_, &first, 1, &ts, nullptr);
    } else {
        rc = io_uring_submit_and_wait(&ring_, 1);
    }
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
        log::error("io_uring_enter failed: {}", std::strerror(-rc));
    }

    unsigned head;
    unsigned count = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
        handle_completion(cqe);
        ++count;
    }
    io_uring_cq_advance(&ring_, count);
    fire_due_timers();

    // Resume outside the completion batch (seastar's rule): a resumed coroutine may start
    // new operations or even destroy other frames, which must not happen mid-walk.
    resuming_.swap(ready_);
    for (auto h : resuming_) h.resume();
    resuming_.clear();

    t_current = previous;
}

void Reactor::run() {
    while (!stop_requested_.load(std::memory_order_acquire)) run_once(true);
    stop_requested_.store(false, std::memory_order_relaxed);
}

void Reactor::drain(Duration limit) {
    // Bounds each turn's wait: the loop waits until the earliest timer at the latest.
    TimerEntry bound;
    bound.fire = [](TimerEntry&) {};
    const TimePoint deadline = SteadyClock::instance().now() + limit;
    arm_timer(bound, deadline);
    while (live_tasks_ > 0 && SteadyClock::instance().now() < deadline) {
        const bool can_progress = in_flight_cqes_ > 1 || pending_count_ > 0 || !ready_.empty() ||
                                  timers_.size() > 1 || external_ > 0;
        if (!can_progress) break;
        run_once(true);
    }
    disarm_timer(bound);
    run_once(false);  // work posted meanwhile
}

SteadyClock& SteadyClock::instance() {
    static SteadyClock clock;
    return clock;
}

// --- CancellationSource -------------------------------------------------------------------

CancellationSource::~CancellationSource() {
    for (IoOperation* op = head_; op;) {
        IoOperation* next = op->cancel_next;
        op->cancel_source = nullptr;
        op->cancel_prev = op->cancel_next = nullptr;
        op = next;
    }
    while (hooks_) remove_hook(*hooks_);
}

void CancellationSource::add_hook(CancelHook& hook) {
    if (hook.linked) return;
    hook.prev = nullptr;
    hook.next = hooks_;
    if (hooks_) hooks_->prev = &hook;
    hooks_ = &hook;
    hook.linked = true;
}

void CancellationSource::remove_hook(CancelHook& hook) {
    if (!hook.linked) return;
    if (hook.prev)
        hook.prev->next = hook.next;
    else
        hooks_ = hook.next;
    if (hook.next) hook.next->prev = hook.prev;
    hook.prev = hook.next = nullptr;
    hook.linked = false;
}

void CancellationSource::attach(IoOperation& op) {
    op.cancel_prev = nullptr;
    op.cancel_next = head_;
    if (head_) head_->cancel_prev = &op;
    head_ = &op;
}

void CancellationSource::detach(IoOperation& op) {
    if (op.cancel_prev)
        op.cancel_prev->cancel_next = op.cancel_next;
    else if (head_ == &op)
        head_ = op.cancel_next;
    if (op.cancel_next) op.cancel_next->cancel_prev = op.cancel_prev;
    op.cancel_prev = op.cancel_next = nullptr;
}

void CancellationSource::cancel() {
    cancelled_ = true;
    for (IoOperation* op = head_; op;) {
        IoOperation* next = op->cancel_next;  // cancel() may detach op
        reactor_->cancel(*op);
        op = next;
    }
    // Each hook is unlinked before it runs, so a hook may remove or add others.
    while (hooks_) {
        CancelHook* hook = hooks_;
        remove_hook(*hook);
        hook->fn(*hook);
    }
}

}  // namespace anytls::io
