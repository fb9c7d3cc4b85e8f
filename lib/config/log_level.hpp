// The log-level key (mihomo's names), and the one mapping of it to lib/log's threshold, which
// the client and the server both use: "silent" writes nothing, as in mihomo.
#pragma once

#include <optional>
#include <string_view>

#include "log/log.hpp"

namespace anytls::config {

enum class LogLevel { silent, error, warning, info, debug, trace };

// "silent", "error", "warning", "info", "debug", "trace" (exactly; mihomo's spelling).
std::optional<LogLevel> parse_log_level(std::string_view name);
std::string_view log_level_name(LogLevel level);
log::Level to_log_threshold(LogLevel level);

}  // namespace anytls::config
