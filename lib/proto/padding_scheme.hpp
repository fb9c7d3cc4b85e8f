// PaddingScheme: the text that tells a client how to cut and pad its first writes on a
// connection (docs/DESIGN.md, "Padding scheme"; anytls-go proxy/padding/padding.go PaddingFactory).
//
// The text is settings-style lines (settings.hpp parse_settings):
//     stop=8                  writes numbered >= stop are sent unpadded
//     0=30-30                 line 0: the auth preamble's padding length (first size only)
//     1=100-400               write k (k >= 1): the list of piece sizes for that write
//     2=400-500,c,500-1000    ...where `c` is a check mark (stop if no payload is left)
// A token `a-b` is a size drawn uniformly from [min(a,b), max(a,b)), exactly a when a == b.
//
// Parsing follows NewPaddingFactory and GenerateRecordPayloadSizes:
//   - the scheme is invalid when no line has a '=' or `stop` is missing or not an integer
//     (strconv.Atoi); everything else is tolerated;
//   - tokens are split on ',' and must be exactly `c` or `<int>-<int>` (strconv.ParseInt: an
//     optional '+', decimal digits, no spaces); a token with a value <= 0 or anything else is
//     ignored, as are lines whose key is not the canonical decimal of a write number (the
//     reference looks lines up by strconv.Itoa(k), so "01=" and "+1=" never match);
//   - `stop` is stored as Go's uint32(stop): a negative stop wraps to a huge number.
// The md5 is taken over the raw text exactly as received (Settings' `padding-md5`).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "proto/random_source.hpp"

namespace anytls::proto {

// The reference client's default scheme, byte for byte (padding.go defaultPaddingScheme; no
// trailing newline). Its md5 is 75cff2ad89aadf5e257059ee571ebe11.
inline constexpr std::string_view default_padding_scheme_text =
    "stop=8\n"
    "0=30-30\n"
    "1=100-400\n"
    "2=400-500,c,500-1000,c,500-1000,c,500-1000,c,500-1000\n"
    "3=9-9,500-1000\n"
    "4=500-1000\n"
    "5=500-1000\n"
    "6=500-1000\n"
    "7=500-1000";

// One parsed token of a line.
struct PaddingToken {
    bool check_mark = false;
    std::int64_t min = 0;  // size range [min, max), both >= 1; unused for a check mark
    std::int64_t max = 0;

    bool operator==(const PaddingToken&) const = default;
};

// A generated size list uses this value for a check mark (padding.go CheckMark = -1).
inline constexpr std::int64_t padding_check_mark = -1;

class PaddingScheme {
public:
    // An empty scheme: stop 0 (no write is padded), no lines, empty raw text and md5. Real
    // schemes come from parse() or default_scheme().
    PaddingScheme() = default;

    // Parses `raw` (see the header comment). Fails with errc::protocol when the scheme is
    // invalid, the case in which the reference keeps its previous scheme.
    static Result<PaddingScheme> parse(std::string_view raw);
    // The default scheme, parsed once.
    static const PaddingScheme& default_scheme();

    const std::string& raw() const { return raw_; }
    // Lower-case hex md5 of raw(): what Settings' `padding-md5` carries.
    const std::string& md5_hex() const { return md5_hex_; }
    // Writes numbered stop() and above are not padded.
    std::uint32_t stop() const { return stop_; }

    // The tokens of line `k` (empty when there is no such line or it has no valid token).
    std::span<const PaddingToken> tokens(std::uint32_t k) const;

    // An upper bound of the bytes one padded write (line k >= 1, below stop) can make: the
    // largest sum of a line's size maxima. A pushed scheme can ask for thousands of 64 KiB
    // pieces per write; clients refuse schemes above a bound (session/padding_state.hpp).
    std::uint64_t largest_padded_write() const;

    // The sizes for line `k`, drawn with `random`: one entry per token, a size >= 1 or
    // padding_check_mark (GenerateRecordPayloadSizes).
    std::vector<std::int64_t> generate_sizes(std::uint32_t k, const RandomSource& random) const;

    // The auth preamble's padding length: the first size of line 0, 0 without one (mihomo
    // client.go: `if pad := GenerateRecordPayloadSizes(0); len(pad) > 0 { paddingLen = pad[0] }`).
    // Go then writes uint16(paddingLen); we cap at 65535 instead of wrapping, and a check mark
    // there (Go would write uint16(-1) = 65535 as the length but then no padding bytes at
    // all, a preamble no server accepts) counts as 0.
    std::uint16_t auth_padding_length(const RandomSource& random) const;

private:
    // The tokens of one write line, a run of tokens_.
    struct Line {
        std::uint32_t k = 0;
        std::size_t first = 0;
        std::size_t count = 0;
    };

    std::string raw_;
    std::string md5_hex_;
    std::uint32_t stop_ = 0;
    // Every line with at least one token, sorted by k, over one array of tokens: a scheme is
    // parsed on every UpdatePaddingScheme and each fuzz run, and a node per line made most of
    // its allocations (docs/RELIABILITY.md, Fuzzing).
    std::vector<Line> lines_;
    std::vector<PaddingToken> tokens_;
};

}  // namespace anytls::proto
