// PendingOpen (see pending_open.hpp) and its shared state.
#include "client/pending_open.hpp"

#include <unistd.h>

#include <cstdint>

#include "base/errors.hpp"
#include "client/pending_open_state.hpp"

namespace anytls::client {

PendingOpenState::~PendingOpenState() {
    if (result && *result && !taken) ::close(result->value());
    ::close(event_fd);
}

void PendingOpenState::finish(Result<int> outcome) {
    std::lock_guard lock(mutex);
    if (!outcome && cancel_requested.load())
        outcome = make_error(-ECANCELED, "the open was cancelled");
    if (abandoned && outcome) {
        ::close(outcome.value());
        outcome = make_error(-ECANCELED, "the open was cancelled");
    }
    result = std::move(outcome);
    ended = true;
    const std::uint64_t one = 1;
    (void)!::write(event_fd, &one, sizeof one);
}

PendingOpen::~PendingOpen() {
    {
        std::lock_guard lock(state_->mutex);
        state_->abandoned = true;
    }
    cancel();
}

int PendingOpen::notify_fd() const { return state_->event_fd; }

std::optional<Result<int>> PendingOpen::take_result() {
    std::lock_guard lock(state_->mutex);
    if (!state_->ended) return std::nullopt;
    if (state_->taken)
        return Result<int>(
            make_error(errc::invalid_argument, "the open's result was taken already"));
    state_->taken = true;
    return std::move(*state_->result);
}

void PendingOpen::cancel() {
    {
        std::lock_guard lock(state_->mutex);
        if (state_->ended || state_->cancel_requested.exchange(true)) return;
    }
    std::weak_ptr<PendingOpenState> weak = state_;
    (void)state_->gate->post([weak] {
        if (auto state = weak.lock()) state->cancel.cancel();
    });
}

}  // namespace anytls::client
