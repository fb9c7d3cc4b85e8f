// Integer parsing with Go's strconv semantics, so text the references exchange (padding
// schemes, Settings' `v`) is accepted and rejected exactly as they do: strconv.ParseInt(s, 10,
// 64) and strconv.Atoi (the same on 64-bit) take an optional '+' or '-' sign followed by one
// or more decimal digits, nothing else — no spaces, no "\r", no underscores — and fail when
// the value does not fit in an int64.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace anytls::proto {

std::optional<std::int64_t> parse_go_int(std::string_view text);

}  // namespace anytls::proto
