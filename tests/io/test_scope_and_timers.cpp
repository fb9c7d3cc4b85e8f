// The reactor's timer list, Signal waits over it, cancel hooks and TaskScope, on a real ring.
#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/task_scope.hpp"
#include "io/timer.hpp"
#include "io/timer_list.hpp"
#include "io/signal.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

TEST_CASE("TimerList pops entries in time order and disarms from the middle") {
    TimerList list;
    std::vector<TimerEntry> entries(50);
    const TimePoint base{};
    for (int i = 0; i < 50; ++i)
        list.arm(entries[i], base + std::chrono::milliseconds((i * 37) % 50));
    list.disarm(entries[10]);
    list.disarm(entries[10]);  // twice is harmless
    CHECK(list.size() == 49);
    CHECK_FALSE(entries[10].armed());
    TimePoint last = base;
    int popped = 0;
    while (TimerEntry* e = list.pop_due(base + 1h)) {
        CHECK(e != &entries[10]);
        CHECK(e->at >= last);
        last = e->at;
        ++popped;
    }
    CHECK(popped == 49);
    CHECK(list.pop_due(base + 1h) == nullptr);
    list.arm(entries[0], base + 5ms);
    CHECK(list.pop_due(base + 4ms) == nullptr);
    CHECK(list.earliest() == base + 5ms);
}

namespace {

Task<void> wait_and_record(io::Signal& s, Duration timeout, CancellationSource* cancel, int* out) {
    bool notified = co_await s.wait(timeout, cancel);
    *out = notified ? 1 : 0;
}

Task<void> notify_later(Reactor& r, io::Signal& s) {
    (void)co_await sleep_for(r, 5ms);
    s.notify();
}

}  // namespace

TEST_CASE("a Signal wait makes no ring request: it ends by notify, by its timer or by cancel") {
    Reactor r;
    io::Signal s(r);
    int result = -1;
    // Timed out: nothing but the reactor's own wake-up read is in flight during the wait.
    auto started = SteadyClock::instance().now();
    r.spawn(wait_and_record(s, 20ms, nullptr, &result));
    r.run_once(false);
    CHECK(r.in_flight() == 1);
    CHECK(r.armed_timers() == 1);
    while (result < 0) r.run_once();
    CHECK(result == 0);
    CHECK(SteadyClock::instance().now() - started >= 20ms);
    CHECK(r.armed_timers() == 0);

    // Notified before the timer: the timer is disarmed.
    result = -1;
    r.spawn(wait_and_record(s, 10s, nullptr, &result));
    r.spawn(notify_later(r, s));
    while (result < 0) r.run_once();
    CHECK(result == 1);
    CHECK(r.armed_timers() == 0);

    // Cancelled: the hook ends the wait, which reports "not notified".
    CancellationSource cancel(r);
    result = -1;
    r.spawn(wait_and_record(s, Duration::zero(), &cancel, &result));
    r.run_once(false);
    CHECK(result == -1);
    cancel.cancel();
    while (result < 0) r.run_once();
    CHECK(result == 0);
    // A cancelled source ends later waits at once.
    result = -1;
    r.spawn(wait_and_record(s, Duration::zero(), &cancel, &result));
    while (result < 0) r.run_once();
    CHECK(result == 0);
}

namespace {

Task<void> sleeper(Reactor& r, TaskScope& scope, int* ended) {
    int rc = co_await sleep_for(r, 1h, &scope.cancellation());
    if (rc == -ECANCELED) ++*ended;
}

Task<void> waiter(io::Signal& s, TaskScope& scope, int* ended) {
    bool notified = co_await s.wait(Duration::zero(), &scope.cancellation());
    if (!notified) ++*ended;
}

Task<void> join_then(TaskScope& scope, bool* joined) {
    co_await scope.join();
    *joined = true;
}

}  // namespace

TEST_CASE("TaskScope: cancel ends kernel sleeps and Signal waits, join resumes once all ended") {
    Reactor r;
    TaskScope scope(r);
    io::Signal s1(r), s2(r);
    int ended = 0;
    bool joined = false;
    scope.spawn(sleeper(r, scope, &ended));
    scope.spawn(sleeper(r, scope, &ended));
    scope.spawn(waiter(s1, scope, &ended));
    scope.spawn(waiter(s2, scope, &ended));
    r.spawn(join_then(scope, &joined));
    for (int i = 0; i < 5; ++i) r.run_once(false);
    CHECK(scope.live() == 4);
    CHECK_FALSE(joined);
    scope.cancel();
    auto deadline = SteadyClock::instance().now() + 5s;
    while (!joined && SteadyClock::instance().now() < deadline) r.run_once();
    CHECK(joined);
    CHECK(ended == 4);
    CHECK(scope.live() == 0);
    // Spawned after cancel: starts cancelled and ends at once.
    scope.spawn(sleeper(r, scope, &ended));
    joined = false;
    r.spawn(join_then(scope, &joined));
    while (!joined) r.run_once();
    CHECK(ended == 5);
}

namespace {
Task<void> sleep_then_count(Reactor* r, Duration d, int* done) {
    (void)co_await sleep_for(*r, d);
    ++*done;
}
Task<void> wait_forever(io::Signal* signal, int* done) {
    (void)co_await signal->wait(Duration::zero());
    ++*done;
}
}  // namespace

TEST_CASE("drain: runs until the last detached task ends, and not for a task nothing can wake") {
    Reactor r;
    int done = 0;
    r.spawn(sleep_then_count(&r, 50ms, &done));
    auto started = std::chrono::steady_clock::now();
    r.drain(5s);
    CHECK(done == 1);
    CHECK(r.live_tasks() == 0);
    CHECK(std::chrono::steady_clock::now() - started < 2s);
    // A wait with no timer, no request and no one to notify it: drain returns at once.
    io::Signal signal(r);
    r.spawn(wait_forever(&signal, &done));
    started = std::chrono::steady_clock::now();
    r.drain(5s);
    CHECK(std::chrono::steady_clock::now() - started < 1s);
    CHECK(r.live_tasks() == 1);
    signal.notify();
    r.drain(5s);
    CHECK(done == 2);
    CHECK(r.live_tasks() == 0);
}
