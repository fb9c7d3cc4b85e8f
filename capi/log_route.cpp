// Log routing of the C ABI (see log_route.hpp).
#include "log_route.hpp"

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "abi_errors.hpp"

namespace anytls::capi {

namespace {

// Leaked on purpose: reactor threads of clients the program never closed may still log during
// static destruction.
CallbackRoute& process_route() {
    static CallbackRoute* route = new CallbackRoute;
    return *route;
}

std::once_flag g_process_sink_installed;

}  // namespace

void CallbackRoute::deliver(log::Level level, std::string_view message) {
    std::lock_guard lock(mutex_);
    if (fn_) {
        std::string text(message);
        try {
            fn_(static_cast<int>(level), text.c_str(), user_);
        } catch (...) {
            // A C++ callback must not throw into the library; drop it.
        }
    } else {
        std::string line = fmt::format("[{}] {}\n", log::level_name(level), message);
        std::fwrite(line.data(), 1, line.size(), stderr);
    }
}

void CallbackRoute::replace(anytls_log_fn fn, void* user) {
    std::lock_guard lock(mutex_);
    fn_ = fn;
    user_ = user;
}

int check_log_level(const char* function, int level) {
    if (level < ANYTLS_LOG_ERROR || level > ANYTLS_LOG_TRACE) {
        return invalid(std::string(function) +
                       ": level must be ANYTLS_LOG_ERROR (0) .. ANYTLS_LOG_TRACE (4), got " +
                       std::to_string(level));
    }
    return 0;
}

void set_process_log(anytls_log_fn fn, void* user, int level) {
    CallbackRoute& route = process_route();
    route.replace(fn, user);
    std::call_once(g_process_sink_installed, [&route] {
        log::set_sink([&route](log::Level l, std::string_view m) { route.deliver(l, m); });
    });
    log::set_level(static_cast<log::Level>(level));
    log::let_process_level_override_configured();
}

void set_logger_log(log::Logger& logger, std::shared_ptr<CallbackRoute>& route, anytls_log_fn fn,
                    void* user, int level) {
    logger.set_level(static_cast<log::Level>(level));
    if (!fn) {
        logger.set_sink({});
        if (route) route->replace(nullptr, nullptr);  // a line in flight goes to stderr
        return;
    }
    if (!route) route = std::make_shared<CallbackRoute>();
    route->replace(fn, user);
    logger.set_sink([route](log::Level l, std::string_view m) { route->deliver(l, m); });
}

}  // namespace anytls::capi
