// Padding scheme parsing and size generation (see padding_scheme.hpp).
#include "proto/padding_scheme.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "base/errors.hpp"
#include "proto/digest.hpp"
#include "proto/go_int.hpp"
#include "proto/settings.hpp"

namespace anytls::proto {

namespace {

// The write number a line key names, if the reference would ever look it up: it asks for
// strconv.Itoa(int(k)) with k a uint32, so only canonical decimals (no sign, no leading zero)
// of values up to 2^32-1 match.
std::optional<std::uint32_t> line_number(std::string_view key) {
    if (key.empty() || key.size() > 10) return std::nullopt;
    if (key.size() > 1 && key.front() == '0') return std::nullopt;
    std::uint64_t value = 0;
    for (const char c : key) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (value > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
    return static_cast<std::uint32_t>(value);
}

// One token of a line, or nothing when the reference would skip it.
std::optional<PaddingToken> parse_token(std::string_view token) {
    if (token == "c") return PaddingToken{true, 0, 0};
    // strings.Split(token, "-") must give exactly two parts.
    const std::size_t dash = token.find('-');
    if (dash == std::string_view::npos || token.find('-', dash + 1) != std::string_view::npos) {
        return std::nullopt;
    }
    const auto a = parse_go_int(token.substr(0, dash));
    const auto b = parse_go_int(token.substr(dash + 1));
    if (!a || !b) return std::nullopt;
    const auto [low, high] = std::minmax(*a, *b);
    if (low <= 0 || high <= 0) return std::nullopt;
    return PaddingToken{false, low, high};
}

std::vector<PaddingToken> parse_line(std::string_view value) {
    std::vector<PaddingToken> tokens;
    while (true) {
        const std::size_t comma = value.find(',');
        if (auto token = parse_token(value.substr(0, comma))) tokens.push_back(*token);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return tokens;
}

}  // namespace

Result<PaddingScheme> PaddingScheme::parse(std::string_view raw) {
    const Settings lines = parse_settings(raw);
    if (lines.empty()) return make_error(errc::protocol, "padding scheme has no key=value line");
    const auto stop_line = lines.find(std::string_view("stop"));
    if (stop_line == lines.end())
        return make_error(errc::protocol, "padding scheme has no stop line");
    const auto stop = parse_go_int(stop_line->second);
    if (!stop) return make_error(errc::protocol, "padding scheme stop is not an integer");

    auto md5_digest = md5(raw);
    if (!md5_digest) return std::move(md5_digest).error();

    PaddingScheme scheme;
    scheme.raw_ = std::string(raw);
    scheme.md5_hex_ = to_hex(*md5_digest);
    // Go: p.Stop = uint32(stop), i.e. modulo 2^32.
    scheme.stop_ = static_cast<std::uint32_t>(static_cast<std::uint64_t>(*stop));
    for (const auto& [key, value] : lines) {
        const auto k = line_number(key);
        if (!k) continue;
        auto tokens = parse_line(value);
        if (!tokens.empty()) scheme.lines_.emplace(*k, std::move(tokens));
    }
    return scheme;
}

const PaddingScheme& PaddingScheme::default_scheme() {
    static const PaddingScheme scheme = [] {
        auto parsed = parse(default_padding_scheme_text);
        // The text is a constant of this file and md5 over it cannot fail short of a broken
        // wolfCrypt; keep going with an empty scheme (no padding) rather than abort.
        return parsed ? std::move(parsed).value() : PaddingScheme{};
    }();
    return scheme;
}

std::span<const PaddingToken> PaddingScheme::tokens(std::uint32_t k) const {
    const auto it = lines_.find(k);
    if (it == lines_.end()) return {};
    return it->second;
}

std::uint64_t PaddingScheme::largest_padded_write() const {
    std::uint64_t largest = 0;
    for (const auto& [k, line] : lines_) {
        if (k == 0 || k >= stop_) continue;  // line 0 is the preamble's length, capped at 65535
        std::uint64_t sum = 0;
        // Each piece is at most max - 1 (a range is [min, max)), plus a Waste header.
        for (const auto& token : line)
            if (!token.check_mark)
                sum += static_cast<std::uint64_t>(std::max(token.min, token.max)) + 7;
        largest = std::max(largest, sum);
    }
    return largest;
}

std::vector<std::int64_t> PaddingScheme::generate_sizes(std::uint32_t k,
                                                        const RandomSource& random) const {
    std::vector<std::int64_t> sizes;
    const auto line = tokens(k);
    sizes.reserve(line.size());
    for (const PaddingToken& token : line) {
        if (token.check_mark) {
            sizes.push_back(padding_check_mark);
        } else if (token.min == token.max) {
            sizes.push_back(token.min);
        } else {
            const auto span = static_cast<std::uint64_t>(token.max - token.min);
            const std::uint64_t draw = random(span) % span;  // % guards a misbehaving source
            sizes.push_back(token.min + static_cast<std::int64_t>(draw));
        }
    }
    return sizes;
}

std::uint16_t PaddingScheme::auth_padding_length(const RandomSource& random) const {
    const auto sizes = generate_sizes(0, random);
    if (sizes.empty() || sizes.front() <= 0) return 0;
    return static_cast<std::uint16_t>(std::min<std::int64_t>(sizes.front(), 65535));
}

}  // namespace anytls::proto
