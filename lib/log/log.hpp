// Logging: one fmt-based logger with levels and a replaceable sink (docs/DESIGN.md, "Logging").
//
// Every line goes through log::write(level, text) to the logger of the thread that writes it:
// the process logger, or a Logger installed on the thread (a Client installs its own on its
// reactor thread, so each client keeps its own level and sink). The process logger's sink
// (stderr by default) can be replaced, which is how the C ABI forwards lines to the caller's
// callback (anytls_set_log). Trace lines compile out unless the build sets -Dtrace_log=true, so
// they cost nothing on hot paths. Secrets (passwords, keys) must never be passed to any of these
// functions.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string_view>

#include "anytls_build_config.h"

namespace anytls::log {

// `off` is a threshold only (log-level = "silent"): no line is written at it.
enum class Level : int { off = -1, error = 0, warn = 1, info = 2, debug = 3, trace = 4 };

std::string_view level_name(Level level);

using Sink = std::function<void(Level, std::string_view message)>;

// The process logger: the code that runs on no Client's thread, and every Logger without a
// sink of its own. Replaces its sink; an empty function restores the default (stderr).
// Thread-safe, but a line being written concurrently may still reach the previous sink.
void set_sink(Sink sink);
void set_level(Level level);
Level level();

// From now on the process level (set_level) also applies to every Logger whose level was not
// set after its construction: the C ABI's anytls_set_log takes precedence over the log-level
// of configurations (docs/C-API.md, "Logging").
void let_process_level_override_configured();

// A level and a sink of one owner (a Client, an embedded server), for the threads it installs
// it on. Its sink, unless set, is the process logger's. Its level is the configured one given
// at construction (subject to let_process_level_override_configured), or the one set later.
// Thread-safe.
class Logger {
public:
    explicit Logger(Level configured) : level_(static_cast<int>(configured)) {}
    Logger(const Logger&) = delete;
    Logger& operator=(const Logger&) = delete;

    void set_level(Level level) {
        level_.store(static_cast<int>(level), std::memory_order_relaxed);
        level_set_.store(true, std::memory_order_relaxed);
    }
    Level level() const { return static_cast<Level>(threshold()); }
    // An empty function: the process logger's sink.
    void set_sink(Sink sink);
    void write(Level level, std::string_view message) const;

    int threshold() const {
        extern std::atomic<int> g_level;
        extern std::atomic<bool> g_process_level_overrides;
        if (!level_set_.load(std::memory_order_relaxed) &&
            g_process_level_overrides.load(std::memory_order_relaxed))
            return g_level.load(std::memory_order_relaxed);
        return level_.load(std::memory_order_relaxed);
    }

private:
    std::atomic<int> level_;
    std::atomic<bool> level_set_{false};
    mutable std::mutex sink_mutex_;
    Sink sink_;
};

// Lines written on this thread go to `logger` (nullptr: the process logger) until the next
// call. The logger must outlive its use on the thread.
void use_on_this_thread(const Logger* logger);
const Logger* logger_of_this_thread();

// Installs a logger on the current thread for a scope (code of a Client run on the caller's
// thread), restoring the previous one after.
class ScopedLogger {
public:
    explicit ScopedLogger(const Logger& logger) : previous_(logger_of_this_thread()) {
        use_on_this_thread(&logger);
    }
    ~ScopedLogger() { use_on_this_thread(previous_); }
    ScopedLogger(const ScopedLogger&) = delete;
    ScopedLogger& operator=(const ScopedLogger&) = delete;

private:
    const Logger* previous_;
};

inline bool enabled(Level l) {
    extern std::atomic<int> g_level;
    extern thread_local const Logger* t_logger;
    const Logger* logger = t_logger;
    const int threshold = logger ? logger->threshold() : g_level.load(std::memory_order_relaxed);
    return static_cast<int>(l) <= threshold;
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
