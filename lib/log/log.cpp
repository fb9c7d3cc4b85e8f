// Loggers, their sinks and levels (see log.hpp).
#include "log/log.hpp"

#include <cstdio>
#include <string>

namespace anytls::log {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<bool> g_process_level_overrides{false};
thread_local const Logger* t_logger = nullptr;

namespace {
std::mutex g_sink_mutex;
Sink g_sink;  // empty: stderr

void default_sink(Level level, std::string_view message) {
    std::string line = fmt::format("[{}] {}\n", level_name(level), message);
    std::fwrite(line.data(), 1, line.size(), stderr);
}

// A copy of a sink, so that the line is written outside the mutex: a sink may be slow, and
// set_sink must not wait for it.
Sink copy_of(std::mutex& mutex, const Sink& sink) {
    std::lock_guard lock(mutex);
    return sink;
}

// The process logger's sink, whatever logger the line passed.
void write_to_process_sink(Level level, std::string_view message) {
    if (Sink sink = copy_of(g_sink_mutex, g_sink))
        sink(level, message);
    else
        default_sink(level, message);
}
}  // namespace

std::string_view level_name(Level level) {
    switch (level) {
        case Level::error:
            return "ERROR";
        case Level::warn:
            return "WARN";
        case Level::info:
            return "INFO";
        case Level::debug:
            return "DEBUG";
        case Level::trace:
            return "TRACE";
        case Level::off:
            return "OFF";
    }
    return "?";
}

void set_sink(Sink sink) {
    std::lock_guard lock(g_sink_mutex);
    g_sink = std::move(sink);
}

void set_level(Level level) { g_level.store(static_cast<int>(level), std::memory_order_relaxed); }

Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

void let_process_level_override_configured() {
    g_process_level_overrides.store(true, std::memory_order_relaxed);
}

void Logger::set_sink(Sink sink) {
    std::lock_guard lock(sink_mutex_);
    sink_ = std::move(sink);
}

void Logger::write(Level level, std::string_view message) const {
    if (Sink sink = copy_of(sink_mutex_, sink_))
        sink(level, message);
    else
        write_to_process_sink(level, message);
}

void use_on_this_thread(const Logger* logger) { t_logger = logger; }

const Logger* logger_of_this_thread() { return t_logger; }

void write(Level level, std::string_view message) {
    if (const Logger* logger = t_logger)
        logger->write(level, message);
    else
        write_to_process_sink(level, message);
}

}  // namespace anytls::log
