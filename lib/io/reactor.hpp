// Reactor: one io_uring ring driven by one thread, the engine under every socket and timer.
//
// The loop follows liburing's echo server and seastar (docs/DESIGN.md, "Coroutines"): submit what
// is queued and wait for completions in one io_uring_enter, walk the completion batch recording
// each result and collecting the coroutines it makes ready, advance the CQ once, and only then
// resume the ready coroutines — never inside the batch. Requests beyond what the completion queue
// can hold wait in an intrusive FIFO until completions free room, so the CQ never overflows.
//
// Threads: a Reactor belongs to the thread that runs it (the ring is created with
// SINGLE_ISSUER | DEFER_TASKRUN when the kernel allows). post() and stop() are the only
// functions other threads may call: they go through a locked queue and an eventfd.
#pragma once

#include <liburing.h>

#include <atomic>
#include <coroutine>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "base/result.hpp"
#include "io/clock.hpp"
#include "io/operation.hpp"
#include "io/task.hpp"
#include "io/timer_list.hpp"

namespace anytls::io {

class Reactor;

// See Reactor::post_gate().
class PostGate {
public:
    explicit PostGate(Reactor* reactor) : reactor_(reactor) {}
    // Any thread. false: the reactor is gone and fn was dropped.
    bool post(std::function<void()> fn);
    // The reactor's destructor: later posts are dropped.
    void close();

private:
    std::mutex mutex_;
    Reactor* reactor_;
};

class Reactor {
public:
    struct Options {
        unsigned submission_entries = 256;
        // Completion queue size: the most requests in flight at once (a parked socket read
        // holds a slot until data arrives, so this bounds concurrent connections per reactor
        // before requests start queueing).
        unsigned completion_entries = 32768;
        Clock* clock = nullptr;  // null: SteadyClock
    };

    // Creates the ring; throws std::runtime_error naming the cause if io_uring is unavailable.
    Reactor();
    explicit Reactor(const Options& options);
    ~Reactor();
    Reactor(const Reactor&) = delete;
    Reactor& operator=(const Reactor&) = delete;

    // Reactor thread: start an operation now or, without room, when room frees up.
    void start(IoOperation& op);
    // Reactor thread: ask the kernel to cancel an operation; it still completes (with
    // -ECANCELED) through the normal path.
    void cancel(IoOperation& op);
    // Reactor thread: resume h on the next turn of the loop.
    void schedule(std::coroutine_handle<> h);
    // Reactor thread: call entry.fire on the first turn at or after `at` on the real
    // monotonic clock (docs/DESIGN.md, "Timed waits"); arming an armed entry moves it. No ring
    // request is made: the loop's wait ends at the earliest armed time.
    void arm_timer(TimerEntry& entry, TimePoint at) { timers_.arm(entry, at); }
    void disarm_timer(TimerEntry& entry) { timers_.disarm(entry); }
    std::size_t armed_timers() const { return timers_.size(); }
    // Reactor thread: run a Task<void> detached; exceptions are logged. The reactor counts
    // live detached tasks (live_tasks()).
    void spawn(Task<void> task);

    // Any thread: run fn on the reactor thread soon.
    void post(std::function<void()> fn);
    // For a thread that may outlive the reactor (a name lookup): posts through the gate
    // are dropped once the reactor is destroyed, instead of touching freed memory.
    std::shared_ptr<PostGate> post_gate() const { return post_gate_; }
    // Any thread: make run() return after its current turn.
    void stop();

    // One turn: submit, wait for at least one event if may_block and nothing is ready,
    // process completions, resume ready coroutines, run posted work.
    void run_once(bool may_block = true);
    // Turns until stop().
    void run();
    // After run(), before the reactor goes: turns until every detached task has ended, or
    // nothing is left that could end one (no request in flight, no timer, nothing ready), or
    // `limit` has passed. Each turn waits for events; nothing polls.
    void drain(Duration limit);

    Clock& clock() const { return *clock_; }
    TimePoint now() const { return clock_->now(); }
    // Requests the kernel holds now, plus those queued for lack of room.
    std::size_t in_flight() const { return in_flight_cqes_; }
    std::size_t queued() const { return pending_count_; }
    std::size_t completion_capacity() const { return cq_capacity_; }
    std::size_t live_tasks() const { return live_tasks_; }
    bool uses_defer_taskrun() const { return defer_taskrun_; }

    // The reactor running on this thread, if any (set by run()/run_once()).
    static Reactor* current();

    // Bookkeeping for work done off-ring (name resolution on a helper thread): it counts as
    // in flight so the loop keeps waiting for it.
    void begin_external() { ++external_; }
    void end_external() { --external_; }

    // Detached-task bookkeeping (used by spawn's driver coroutine).
    void task_finished() { --live_tasks_; }

private:
    void flush_pending();
    bool try_submit(IoOperation& op);
    bool submit_cancel(IoOperation& target);
    void handle_completion(io_uring_cqe* cqe);
    void complete(IoOperation& op);
    bool run_posted();  // whether it ran anything
    void fire_due_timers();
    void arm_wakeup();
    io_uring_sqe* get_sqe();

    io_uring ring_{};
    Clock* clock_;
    std::size_t cq_capacity_ = 0;
    std::size_t in_flight_cqes_ = 0;
    std::size_t external_ = 0;
    std::size_t live_tasks_ = 0;
    bool defer_taskrun_ = false;

    // Operations waiting for room, FIFO.
    IoOperation* pending_head_ = nullptr;
    IoOperation* pending_tail_ = nullptr;
    std::size_t pending_count_ = 0;
    // Cancellations waiting for room (their targets are in flight).
    std::vector<IoOperation*> pending_cancels_;

    std::vector<std::coroutine_handle<>> ready_;
    std::vector<std::coroutine_handle<>> resuming_;
    TimerList timers_;

    // Cross-thread entry point.
public:
    struct Wakeup {
        int fd = -1;
        std::uint64_t value = 0;  // what the eventfd read lands in
    };

private:
    Wakeup wakeup_;
    IoOperation wake_op_;
    std::mutex posted_mutex_;
    std::vector<std::function<void()>> posted_;
    std::vector<std::function<void()>> running_posted_;
    std::atomic<bool> stop_requested_{false};
    std::shared_ptr<PostGate> post_gate_ = std::make_shared<PostGate>(this);
};

// Runs the reactor on the calling thread until task completes; returns its result.
template <typename T>
T sync_wait(Reactor& reactor, Task<T> task);

}  // namespace anytls::io

#include "io/sync_wait.hpp"
