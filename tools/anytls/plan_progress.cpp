// The progress line of `anytls plan` (see plan_progress.hpp).
#include "plan_progress.hpp"

#include <unistd.h>

namespace anytls::cli {

PlanProgress::PlanProgress(bool forced, bool allowed)
    : forced_(forced),
      enabled_(forced || (allowed && is_live_terminal(STDERR_FILENO))),
      start_(Clock::now()),
      next_(forced ? start_ : start_ + kDelay),
      every_(is_live_terminal(STDERR_FILENO) ? kTerminalEvery : kLineEvery),
      console_(is_live_terminal(STDERR_FILENO), stderr) {}

PlanProgress::~PlanProgress() {
    // An error ends the run early: leave no half-drawn line in front of its message.
    if (!finished_) console_.clear_status();
}

bool PlanProgress::due() {
    if (!enabled_) return false;
    const Clock::time_point now = Clock::now();
    if (now < next_) return false;
    next_ = now + every_;
    return true;
}

void PlanProgress::show(const std::string& text) {
    if (enabled_) console_.status(text);
}

void PlanProgress::finish(const std::string& text) {
    finished_ = true;
    if (forced_) {
        console_.status(text);
        console_.end_status();
    } else {
        console_.clear_status();
    }
}

}  // namespace anytls::cli
