// Logging: one fmt-based logger with levels and a replaceable sink (docs/DESIGN.md, "Logging").
//
// Every line goes through log::write(level, text); the sink (stderr by default) can be
// replaced, which is how the C ABI forwards lines to the caller's callback (anytls_set_log). Trace
// lines compile out unless the build sets -Dtrace_log=true, so they cost nothing on hot paths.
// Secrets (passwords, keys) must never be passed to any of these functions.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <string_view>

#include "anytls_build_config.h"

namespace anytls::log {

// `off` is a threshold only (log-level = "silent"): no line is written at it.
enum class Level : int { off = -1, error = 0, warn = 1, info = 2, debug = 3, trace = 4 };

std::string_view level_name(Level level);

using Sink = std::function<void(Level, std::string_view message)>;

// Replaces the sink; an empty function restores the default (stderr). Thread-safe, but a
// line being written concurrently may still reach the previous sink.
void set_sink(Sink sink);
void set_level(Level level);
Level level();
inline bool enabled(Level l) {
    extern std::atomic<int> g_level;
    return static_cast<int>(l) <= g_level.load(std::memory_order_relaxed);
}

void write(Level level, std::string_view message);

template <typename... Args>
void emit(Level level, fmt::format_string<Args...> format, Args&&... args) {
    if (!enabled(level)) return;
    write(level, fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... a) {
    emit(Level::error, f, std::forward<Args>(a)...);
}
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) {
    emit(Level::warn, f, std::forward<Args>(a)...);
}
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... a) {
    emit(Level::info, f, std::forward<Args>(a)...);
}
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) {
    emit(Level::debug, f, std::forward<Args>(a)...);
}

}  // namespace anytls::log

// Trace lines vanish from builds without -Dtrace_log=true (arguments are not evaluated).
#if ANYTLS_LOG_TRACE_ENABLED
#define ANYTLS_TRACE(...) ::anytls::log::emit(::anytls::log::Level::trace, __VA_ARGS__)
#else
#define ANYTLS_TRACE(...) \
    do {                  \
    } while (0)
#endif
