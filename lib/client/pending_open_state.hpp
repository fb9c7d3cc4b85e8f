// What a PendingOpen shares with the coroutine that runs it (pending_open.hpp). Internal to
// lib/client.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "base/result.hpp"
#include "io/cancellation.hpp"
#include "io/reactor.hpp"

namespace anytls::client {

struct PendingOpenState {
    PendingOpenState(io::Reactor& reactor, int notify)
        : event_fd(notify), gate(reactor.post_gate()), cancel(reactor) {}
    ~PendingOpenState();
    PendingOpenState(const PendingOpenState&) = delete;
    PendingOpenState& operator=(const PendingOpenState&) = delete;

    // Reactor thread: the open ended. Stores the result and makes event_fd readable; a result
    // nobody will take (the PendingOpen is gone) has its fd closed here.
    void finish(Result<int> outcome);

    std::mutex mutex;  // guards the fields below it
    std::optional<Result<int>> result;
    bool ended = false;
    bool taken = false;
    bool abandoned = false;  // the PendingOpen was destroyed

    const int event_fd;
    // Posts cancel() to the reactor; dropped once the reactor is gone (the client closed, and
    // the open ended with it).
    const std::shared_ptr<io::PostGate> gate;
    io::CancellationSource cancel;  // reactor thread only
    std::atomic<bool> cancel_requested{false};
};

}  // namespace anytls::client
