// JSON string quoting, for the little JSON the tools write (`anytls version --json`, the interop
// peer's reports). Numbers are written by the callers' formatting.
#pragma once

#include <string>
#include <string_view>

namespace anytls {

// The text as a JSON string literal, quotes included (RFC 8259 section 7): `"` and `\` are
// escaped, control characters as \n, \r, \t or \u00XX; UTF-8 passes through unchanged.
std::string json_string(std::string_view text);

}  // namespace anytls
