// JSON string quoting (see json.hpp).
#include "json.hpp"

#include <fmt/format.h>

namespace anytls::cli {

std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (byte < 0x20) out += fmt::format("\\u{:04x}", byte);
                else out += c;  // UTF-8 passes through unchanged
        }
    }
    out += '"';
    return out;
}

}  // namespace anytls::cli
