// The log-level key (mihomo's names). lib/log has no "silent" level, so the configuration
// keeps its own enum and the client maps it (silent = nothing written).
#pragma once

#include <optional>
#include <string_view>

namespace anytls::config {

enum class LogLevel { silent, error, warning, info, debug, trace };

// "silent", "error", "warning", "info", "debug", "trace" (exactly; mihomo's spelling).
std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);

}  // namespace anytls::config
