// Durations as written in configuration files (docs/DESIGN.md, "Configuration": strings
// ("2h", "30m", "1h30m", "500ms") or integers (seconds), everywhere).
//
// The string form is the subset of Go's time.ParseDuration that mihomo users already write:
// an optional sign, then one or more <number><unit> pairs where the number may carry a
// decimal fraction ("1.5h") and the unit is one of h, m, s, ms, us (or µs / μs), ns. As in Go,
// the bare string "0" is the only number allowed without a unit. Parsing is pure and never
// rejects a negative value itself: whether a negative or zero duration makes sense depends on
// the key, so callers check that (see pool_settings.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace anytls::config {

// Nanoseconds, like Go's time.Duration: every unit the syntax allows is exact.
using Duration = std::chrono::nanoseconds;

// Parses "1h30m", "500ms", "1.5h", "-2s", "0". Errors (code errc::config) say what is wrong:
// empty text, missing unit, unknown unit, malformed number, out of range (beyond ~292 years).
Result<Duration> parse_duration(std::string_view text);

// A TOML integer means seconds. Errors when the value does not fit a Duration.
Result<Duration> duration_from_seconds(std::int64_t seconds);

// Formats for logs and `anytls plan` output: the non-zero components from hours down to
// nanoseconds, without Go's trailing "0s": 90min -> "1h30m", 1.5s -> "1s500ms",
// 0 -> "0s", -2s -> "-2s". The result parses back to the same value.
std::string format_duration(Duration value);

}  // namespace anytls::config
