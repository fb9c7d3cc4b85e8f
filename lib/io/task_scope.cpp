// TaskScope (see task_scope.hpp).
#include "io/task_scope.hpp"

#include <exception>
#include <utility>

#include "log/log.hpp"

namespace anytls::io {

TaskScope::~TaskScope() {
    if (live_ > 0) log::error("a task scope was destroyed with {} tasks still running", live_);
}

void TaskScope::spawn(Task<void> task) {
    ++live_;
    reactor_->spawn(run(std::move(task), this));
}

Task<void> TaskScope::run(Task<void> task, TaskScope* scope) {
    try {
        co_await std::move(task);
    } catch (const std::exception& e) {
        log::error("background task failed: {}", e.what());
    } catch (...) {
        log::error("background task failed with an unknown exception");
    }
    scope->finished();
}

void TaskScope::finished() {
    if (--live_ > 0 || joiners_.empty()) return;
    std::vector<std::coroutine_handle<>> joiners;
    joiners.swap(joiners_);
    for (auto h : joiners) reactor_->schedule(h);
}

}  // namespace anytls::io
