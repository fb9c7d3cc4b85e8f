// Where the C ABI sends log lines (docs/DESIGN.md, "Logging"; docs/C-API.md, "Logging").
//
// anytls_set_log routes the process logger's lines to a callback; anytls_client_set_log gives
// one client a callback (and level) of its own. A level chosen with anytls_set_log takes
// precedence over the log-level of every configuration, before or after, but not over a level
// given with anytls_client_set_log (log::Logger).
#pragma once

#include <memory>
#include <mutex>
#include <string_view>

#include "anytls/anytls.h"
#include "log/log.hpp"

namespace anytls::capi {

// A C callback and its `user`, called one line at a time. Without a callback, lines go to
// stderr.
class CallbackRoute {
public:
    void deliver(log::Level level, std::string_view message);
    // Waits for a callback in progress: once it returns, the old (fn, user) is never called.
    void replace(anytls_log_fn fn, void* user);

private:
    std::recursive_mutex mutex_;  // recursive: a misbehaving callback that calls
                                  // anytls_set_log does not deadlock
    anytls_log_fn fn_ = nullptr;
    void* user_ = nullptr;
};

// 0, or INVALID_ARGUMENT naming the function, for a level outside ERROR..TRACE.
int check_log_level(const char* function, int level);

// anytls_set_log: the process logger's callback and level.
void set_process_log(anytls_log_fn fn, void* user, int level);

// anytls_client_set_log: the client's own callback (NULL: the process's) and level.
void set_logger_log(log::Logger& logger, std::shared_ptr<CallbackRoute>& route, anytls_log_fn fn,
                    void* user, int level);

}  // namespace anytls::capi
