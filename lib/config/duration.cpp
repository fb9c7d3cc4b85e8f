// Duration parsing and formatting (see duration.hpp). The parser follows the algorithm of Go's
// time.ParseDuration so that every string mihomo accepts means the same thing here.
#include "config/duration.hpp"

#include <fmt/format.h>

#include <array>
#include <limits>

#include "base/errors.hpp"

namespace anytls::config {

namespace {

constexpr std::uint64_t kMaxMagnitude = std::uint64_t{1} << 63;  // |INT64_MIN|

struct Unit {
    std::string_view name;
    std::uint64_t nanoseconds;
};

// Go's unitMap. Both micro signs (U+00B5 and U+03BC) are accepted, as Go does.
constexpr std::array<Unit, 8> kUnits{{
    {"ns", 1},
    {"us", 1'000},
    {"\u00b5s", 1'000},
    {"\u03bcs", 1'000},
    {"ms", 1'000'000},
    {"s", 1'000'000'000},
    {"m", 60'000'000'000},
    {"h", 3'600'000'000'000},
}};

constexpr std::string_view kUnitList = "h, m, s, ms, us or ns";

bool is_digit(char c) { return c >= '0' && c <= '9'; }

Error invalid(std::string_view text, std::string_view why) {
    return make_error(errc::config, fmt::format("invalid duration \"{}\": {}", text, why));
}

}  // namespace

Result<Duration> parse_duration(std::string_view text) {
    std::string_view s = text;
    bool negative = false;
    if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
        negative = s.front() == '-';
        s.remove_prefix(1);
    }
    // Go's special case: a bare zero needs no unit.
    if (s == "0") return Duration{0};
    if (s.empty())
        return invalid(text, fmt::format("expected a number followed by a unit ({})", kUnitList));

    std::uint64_t total = 0;
    while (!s.empty()) {
        if (!(s.front() == '.' || is_digit(s.front())))
            return invalid(text,
                           fmt::format("expected a number followed by a unit ({})", kUnitList));

        // The integer part.
        std::uint64_t whole = 0;
        bool has_whole = false;
        while (!s.empty() && is_digit(s.front())) {
            const auto digit = static_cast<std::uint64_t>(s.front() - '0');
            if (whole > (kMaxMagnitude - digit) / 10) return invalid(text, "out of range");
            whole = whole * 10 + digit;
            has_whole = true;
            s.remove_prefix(1);
        }
        // The fraction: digits beyond what fits are dropped, like Go (they cannot matter at
        // nanosecond resolution).
        std::uint64_t fraction = 0;
        double scale = 1;
        bool has_fraction = false;
        if (!s.empty() && s.front() == '.') {
            s.remove_prefix(1);
            bool overflowed = false;
            while (!s.empty() && is_digit(s.front())) {
                has_fraction = true;
                const auto digit = static_cast<std::uint64_t>(s.front() - '0');
                if (!overflowed) {
                    if (fraction > (kMaxMagnitude - digit) / 10) {
                        overflowed = true;
                    } else {
                        fraction = fraction * 10 + digit;
                        scale *= 10;
                    }
                }
                s.remove_prefix(1);
            }
        }
        if (!has_whole && !has_fraction)
            return invalid(text,
                           fmt::format("expected a number followed by a unit ({})", kUnitList));

        // The unit: everything up to the next number.
        std::size_t unit_length = 0;
        while (unit_length < s.size() && s[unit_length] != '.' && !is_digit(s[unit_length]))
            ++unit_length;
        const std::string_view unit_name = s.substr(0, unit_length);
        s.remove_prefix(unit_length);
        if (unit_name.empty())
            return make_error(
                errc::config,
                fmt::format("invalid duration \"{}\": missing unit (expected {} after the number)",
                            text, kUnitList));
        const Unit* unit = nullptr;
        for (const Unit& candidate : kUnits)
            if (candidate.name == unit_name) unit = &candidate;
        if (unit == nullptr)
            return make_error(
                errc::config,
                fmt::format("invalid duration \"{}\": unknown unit \"{}\" (expected {})", text,
                            unit_name, kUnitList));

        if (whole > kMaxMagnitude / unit->nanoseconds) return invalid(text, "out of range");
        std::uint64_t value = whole * unit->nanoseconds;
        if (fraction > 0) {
            const double extra =
                static_cast<double>(fraction) * (static_cast<double>(unit->nanoseconds) / scale);
            value += static_cast<std::uint64_t>(extra);
            if (value > kMaxMagnitude) return invalid(text, "out of range");
        }
        if (value > kMaxMagnitude - total) return invalid(text, "out of range");
        total += value;
    }
    if (negative) {
        if (total == kMaxMagnitude) return Duration{std::numeric_limits<Duration::rep>::min()};
        return Duration{-static_cast<Duration::rep>(total)};
    }
    if (total >= kMaxMagnitude) return invalid(text, "out of range");
    return Duration{static_cast<Duration::rep>(total)};
}

Result<Duration> duration_from_seconds(std::int64_t seconds) {
    constexpr std::int64_t kLimit = std::numeric_limits<Duration::rep>::max() / 1'000'000'000;
    if (seconds > kLimit || seconds < -kLimit)
        return make_error(errc::config,
                          fmt::format("{} seconds is out of range for a duration", seconds));
    return Duration{seconds * 1'000'000'000};
}

std::string format_duration(Duration value) {
    if (value.count() == 0) return "0s";
    std::string out;
    std::uint64_t rest = 0;
    if (value.count() < 0) {
        out = "-";
        rest = static_cast<std::uint64_t>(-(value.count() + 1)) + 1;  // safe for INT64_MIN
    } else {
        rest = static_cast<std::uint64_t>(value.count());
    }
    // Largest unit first; kUnits lists them smallest first, and µs/μs are skipped.
    constexpr std::array<Unit, 6> kOrder{{
        {"h", 3'600'000'000'000},
        {"m", 60'000'000'000},
        {"s", 1'000'000'000},
        {"ms", 1'000'000},
        {"us", 1'000},
        {"ns", 1},
    }};
    for (const Unit& unit : kOrder) {
        const std::uint64_t count = rest / unit.nanoseconds;
        rest %= unit.nanoseconds;
        if (count > 0) out += fmt::format("{}{}", count, unit.name);
    }
    return out;
}

}  // namespace anytls::config
