// TaskScope (see task_scope.hpp).
#include "io/task_scope.hpp"

#include <utility>

#include "log/log.hpp"  // the destructor's report

namespace anytls::io {

TaskScope::~TaskScope() {
    if (live_ > 0) log::error("a task scope was destroyed with {} tasks still running", live_);
}

void TaskScope::spawn(Task<void> task) {
    ++live_;
    reactor_->spawn(run(std::move(task), this));
}

Task<void> TaskScope::run(Task<void> task, TaskScope* scope) {
    // The reactor's detached driver logs an exception; the scope only has to count the task
    // as ended either way.
    struct Finished {
        TaskScope* scope;
        ~Finished() { scope->finished(); }
    } finished{scope};
    co_await std::move(task);
}

void TaskScope::finished() {
    if (--live_ > 0 || joiners_.empty()) return;
    std::vector<std::coroutine_handle<>> joiners;
    joiners.swap(joiners_);
    for (auto h : joiners) reactor_->schedule(h);
}

}  // namespace anytls::io
