// Blocking and waiting for the stop signals (see stop_signals.hpp).
#include "stop_signals.hpp"

#include <pthread.h>

namespace anytls::cli {

namespace {
std::string_view stop_signal_name(int signal_number) {
    if (signal_number == SIGINT) return "SIGINT";
    if (signal_number == SIGTERM) return "SIGTERM";
    return {};
}
}  // namespace

StopSignals::StopSignals(bool hangup) {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    if (hangup) sigaddset(&signals_, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_mask_);
}

StopSignals::~StopSignals() { pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr); }

std::string_view StopSignals::wait(const std::function<void()>& on_hangup) const {
    while (true) {
        int signal_number = 0;
        if (sigwait(&signals_, &signal_number) != 0) continue;
        if (auto name = stop_signal_name(signal_number); !name.empty()) return name;
        if (signal_number == SIGHUP && on_hangup) on_hangup();
    }
}

std::string_view StopSignals::wait(std::chrono::seconds tick,
                                   const std::function<void()>& on_tick) const {
    const timespec period{static_cast<time_t>(tick.count()), 0};
    while (true) {
        const int signal_number = sigtimedwait(&signals_, nullptr, &period);
        if (auto name = stop_signal_name(signal_number); !name.empty()) return name;
        on_tick();  // a timeout (EAGAIN), or EINTR
    }
}

}  // namespace anytls::cli
