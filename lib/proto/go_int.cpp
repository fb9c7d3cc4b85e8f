// Go strconv.ParseInt(s, 10, 64) semantics (see go_int.hpp).
#include "proto/go_int.hpp"

#include <limits>

namespace anytls::proto {

std::optional<std::int64_t> parse_go_int(std::string_view text) {
    bool negative = false;
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
        negative = text.front() == '-';
        text.remove_prefix(1);
    }
    if (text.empty()) return std::nullopt;
    // Accumulate the magnitude as unsigned; the negative range is one larger.
    const std::uint64_t limit = negative ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
    std::uint64_t value = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (limit - digit) / 10) return std::nullopt;
        value = value * 10 + digit;
    }
    if (negative) return static_cast<std::int64_t>(std::uint64_t{0} - value);
    return static_cast<std::int64_t>(value);
}

}  // namespace anytls::proto
