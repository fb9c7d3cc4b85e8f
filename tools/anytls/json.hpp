// The little JSON the `anytls` tool writes (--json outputs): string quoting only; numbers are
// written by fmt, which prints the shortest text that reads back to the same double.
#pragma once

#include <string>
#include <string_view>

namespace anytls::cli {

// The text as a JSON string literal, quotes included (RFC 8259 section 7).
std::string json_string(std::string_view text);

}  // namespace anytls::cli
