// Padding scheme parsing and size generation (see padding_scheme.hpp).
#include "proto/padding_scheme.hpp"

#include <algorithm>
#include <limits>
#include <optional>
#include <utility>

#include "base/errors.hpp"
#include "proto/digest.hpp"
#include "proto/go_int.hpp"

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

// Appends the valid tokens of a line's value to `out`.
void parse_line(std::string_view value, std::vector<PaddingToken>& out) {
    while (true) {
        const std::size_t comma = value.find(',');
        if (auto token = parse_token(value.substr(0, comma))) out.push_back(*token);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
}

}  // namespace

Result<PaddingScheme> PaddingScheme::parse(std::string_view raw) {
    // The lines are split exactly as parse_settings splits them (settings.hpp: on "\n", then
    // at the first '='; lines without '=' are skipped; the last value of a key wins), but read
    // in place: the scheme needs only `stop` and the write lines, not a map of strings.
    bool any_entry = false;
    std::optional<std::string_view> stop_text;
    // The write lines in text order; sorted below so that the last value of each k wins.
    std::vector<std::pair<std::uint32_t, std::string_view>> write_lines;
    for (std::string_view text = raw;;) {
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        if (const std::size_t eq = line.find('='); eq != std::string_view::npos) {
            any_entry = true;
            const std::string_view key = line.substr(0, eq);
            const std::string_view value = line.substr(eq + 1);
            if (key == "stop") {
                stop_text = value;
            } else if (const auto k = line_number(key)) {
                write_lines.emplace_back(*k, value);
            }
        }
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    if (!any_entry) return make_error(errc::protocol, "padding scheme has no key=value line");
    if (!stop_text) return make_error(errc::protocol, "padding scheme has no stop line");
    const auto stop = parse_go_int(*stop_text);
    if (!stop) return make_error(errc::protocol, "padding scheme stop is not an integer");

    auto md5_digest = md5(raw);
    if (!md5_digest) return std::move(md5_digest).error();

    PaddingScheme scheme;
    scheme.raw_ = std::string(raw);
    scheme.md5_hex_ = to_hex(*md5_digest);
    // Go: p.Stop = uint32(stop), i.e. modulo 2^32.
    scheme.stop_ = static_cast<std::uint32_t>(static_cast<std::uint64_t>(*stop));
    // By k, and lines of the same k in text order (their values' addresses in `raw`): only the
    // last of them counts. (std::sort, unlike std::stable_sort, needs no temporary buffer.)
    std::sort(write_lines.begin(), write_lines.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first < b.first : a.second.data() < b.second.data();
    });
    for (std::size_t i = 0; i < write_lines.size(); ++i) {
        const auto& [k, value] = write_lines[i];
        if (i + 1 < write_lines.size() && write_lines[i + 1].first == k) continue;
        const std::size_t first = scheme.tokens_.size();
        parse_line(value, scheme.tokens_);
        // A line whose last value has no valid token is no line at all.
        if (scheme.tokens_.size() > first)
            scheme.lines_.push_back(Line{k, first, scheme.tokens_.size() - first});
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
    const auto it =
        std::lower_bound(lines_.begin(), lines_.end(), k,
                         [](const Line& line, std::uint32_t key) { return line.k < key; });
    if (it == lines_.end() || it->k != k) return {};
    return std::span<const PaddingToken>(tokens_).subspan(it->first, it->count);
}

std::uint64_t PaddingScheme::largest_padded_write() const {
    std::uint64_t largest = 0;
    for (const Line& line : lines_) {
        if (line.k == 0 || line.k >= stop_) continue;  // line 0: the preamble's, capped at 65535
        std::uint64_t sum = 0;
        // Each piece is at most max - 1 (a range is [min, max)), plus a Waste header.
        for (const auto& token : std::span(tokens_).subspan(line.first, line.count))
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
