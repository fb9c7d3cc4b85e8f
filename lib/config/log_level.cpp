// log-level names (see log_level.hpp).
#include "config/log_level.hpp"

#include <array>
#include <utility>

namespace anytls::config {

namespace {
constexpr std::array<std::pair<std::string_view, LogLevel>, 6> kLevels{{
    {"silent", LogLevel::silent},
    {"error", LogLevel::error},
    {"warning", LogLevel::warning},
    {"info", LogLevel::info},
    {"debug", LogLevel::debug},
    {"trace", LogLevel::trace},
}};
}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view name) {
    for (const auto& [text, level] : kLevels)
        if (text == name) return level;
    return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
    for (const auto& [text, candidate] : kLevels)
        if (candidate == level) return text;
    return "?";
}

log::Level to_log_threshold(LogLevel level) {
    switch (level) {
        case LogLevel::silent:
            return log::Level::off;
        case LogLevel::error:
            return log::Level::error;
        case LogLevel::warning:
            return log::Level::warn;
        case LogLevel::info:
            return log::Level::info;
        case LogLevel::debug:
            return log::Level::debug;
        case LogLevel::trace:
            return log::Level::trace;
    }
    return log::Level::info;
}

}  // namespace anytls::config
