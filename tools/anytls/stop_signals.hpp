// SIGINT and SIGTERM (and SIGHUP for `anytls server`'s reload) for the long-running commands (`anytls server`, `anytls socks`): blocked
// from construction to destruction. Made before any other thread exists, so that every thread
// inherits the mask and only wait() receives them.
#pragma once

#include <signal.h>

#include <chrono>
#include <functional>
#include <string_view>

namespace anytls::cli {

class StopSignals {
public:
    // hangup: SIGHUP is blocked too, and wait(on_hangup) calls on_hangup for it.
    explicit StopSignals(bool hangup = false);
    ~StopSignals();  // the previous mask back
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    // Blocks until SIGINT or SIGTERM; its name. With hangup, each SIGHUP meanwhile calls
    // on_hangup on this thread.
    std::string_view wait(const std::function<void()>& on_hangup = {}) const;
    // The same, calling on_tick once per `tick` meanwhile.
    std::string_view wait(std::chrono::seconds tick, const std::function<void()>& on_tick) const;

private:
    sigset_t signals_;
    sigset_t previous_mask_;
};

}  // namespace anytls::cli
