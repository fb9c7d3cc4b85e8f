// SIGINT and SIGTERM for the long-running commands (`anytls server`, `anytls socks`): blocked
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
    StopSignals();
    ~StopSignals();  // the previous mask back
    StopSignals(const StopSignals&) = delete;
    StopSignals& operator=(const StopSignals&) = delete;

    // Blocks until SIGINT or SIGTERM; its name.
    std::string_view wait() const;
    // The same, calling on_tick once per `tick` meanwhile.
    std::string_view wait(std::chrono::seconds tick, const std::function<void()>& on_tick) const;

private:
    sigset_t signals_;
    sigset_t previous_mask_;
};

}  // namespace anytls::cli
