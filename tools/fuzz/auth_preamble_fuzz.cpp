// Fuzz target: AuthPreambleParser (lib/proto/auth_preamble.hpp), the server's parser of the
// first bytes an unauthenticated client sends.
//
// Input layout:
//     u8 head        low 4 bits: number of cuts; bit 4: a custom padding cap follows
//     u16 cuts[n]    where the bytes are cut into reads (modulo their size + 1)
//     [bit 4: u16 max_padding]
//     bytes          the rest: what the client sent
//
// Invariants:
//   - the outcome matches the layout read directly: 32 hash bytes, a big-endian u16 padding
//     length, that many padding bytes; a length above the cap fails with errc::protocol;
//     the bytes after the padding come back as `rest`, and consumed() counts the others;
//   - the outcome (status, hash, padding length, consumed, rest, failure) is the same for
//     the whole input, for any cuts, and with every transition of the parser in a read of one
//     byte (each hash and length byte, the first and last 8 padding bytes; the padding between
//     and what follows the preamble or a failure are one read each); after a failure every
//     feed fails, after done every feed returns all its input as rest;
//   - build_auth_preamble of the parsed hash and length parses back to the same values, and
//     the hash comparison helpers agree with ==.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/errors.hpp"
#include "fuzz_input.hpp"
#include "proto/auth_preamble.hpp"

namespace {

using anytls::fuzz::FuzzInput;
using namespace anytls::proto;

struct Outcome {
    bool failed = false;
    bool done = false;
    bool has_hash = false;
    PasswordHash hash{};
    std::uint16_t padding_length = 0;
    std::size_t consumed = 0;
    std::vector<std::uint8_t> rest;  // when done: everything after the preamble

    bool operator==(const Outcome&) const = default;
};

// The preamble read directly from the layout in auth_preamble.hpp.
Outcome read_plainly(std::span<const std::uint8_t> bytes, std::size_t max_padding) {
    Outcome out;
    out.consumed = std::min(bytes.size(), auth_preamble_fixed_size);
    if (bytes.size() >= sha256_size) {
        out.has_hash = true;
        std::copy_n(bytes.begin(), sha256_size, out.hash.begin());
    }
    if (bytes.size() < auth_preamble_fixed_size) return out;
    out.padding_length =
        static_cast<std::uint16_t>((bytes[sha256_size] << 8) | bytes[sha256_size + 1]);
    if (out.padding_length > max_padding) {
        out.failed = true;
        return out;
    }
    const std::size_t total = auth_preamble_fixed_size + out.padding_length;
    out.consumed = std::min(bytes.size(), total);
    if (bytes.size() < total) return out;
    out.done = true;
    out.rest.assign(bytes.begin() + static_cast<std::ptrdiff_t>(total), bytes.end());
    return out;
}

Outcome parse_in_chunks(std::span<const std::uint8_t> bytes, const std::vector<std::size_t>& bounds,
                        std::size_t max_padding) {
    AuthPreambleParser parser(max_padding);
    Outcome out;
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
        const auto chunk = bytes.subspan(bounds[i], bounds[i + 1] - bounds[i]);
        const bool was_done = parser.done();
        const auto progress = parser.feed(chunk);
        if (!progress) {
            FUZZ_CHECK(progress.code() == anytls::errc::protocol);
            FUZZ_CHECK(!progress.error().message.empty());
            FUZZ_CHECK(!parser.done());
            out.failed = true;
            continue;  // every later feed must fail too
        }
        FUZZ_CHECK(!out.failed);
        FUZZ_CHECK(parser.done() == (progress->status == AuthPreambleParser::Status::done));
        if (progress->status == AuthPreambleParser::Status::need_more) {
            FUZZ_CHECK(progress->rest.empty());
            continue;
        }
        // rest is a view into this chunk: its tail.
        FUZZ_CHECK(progress->rest.size() <= chunk.size());
        FUZZ_CHECK(progress->rest.data() + progress->rest.size() == chunk.data() + chunk.size());
        if (was_done) FUZZ_CHECK(progress->rest.size() == chunk.size());
        out.done = true;
        out.rest.insert(out.rest.end(), progress->rest.begin(), progress->rest.end());
    }
    out.has_hash = parser.has_password_hash();
    if (out.has_hash) out.hash = parser.password_hash();
    out.padding_length = parser.padding_length();
    out.consumed = parser.consumed();
    return out;
}

void check_round_trip(const PasswordHash& hash, std::uint16_t padding_length,
                      std::size_t max_padding) {
    const auto preamble = build_auth_preamble(hash, padding_length);
    FUZZ_CHECK(preamble.size() == auth_preamble_fixed_size + padding_length);
    AuthPreambleParser parser(max_padding);
    const auto progress = parser.feed(preamble);
    FUZZ_CHECK(progress.ok());
    FUZZ_CHECK(progress->status == AuthPreambleParser::Status::done);
    FUZZ_CHECK(progress->rest.empty());
    FUZZ_CHECK(parser.password_hash() == hash);
    FUZZ_CHECK(parser.padding_length() == padding_length);

    // The constant-time helpers agree with plain comparison.
    PasswordHash other = hash;
    other[padding_length % other.size()] ^= 0x01;
    FUZZ_CHECK(password_hashes_equal(hash, hash));
    FUZZ_CHECK(!password_hashes_equal(hash, other));
    const PasswordHash known[] = {other, hash, hash};
    FUZZ_CHECK(find_password_hash(hash, known) == std::optional<std::size_t>(1));
    FUZZ_CHECK(find_password_hash(hash, std::span(known, 1)) == std::nullopt);
}

// Cut points that put every change of the parser's state in a read of one byte: the hash and
// length bytes, and the first and last `edge` padding bytes. The padding between (where the
// parser only counts) is one read, and so is everything after the preamble or a failure
// (where every feed answers the same way).
std::vector<std::size_t> byte_reads_at_transitions(std::span<const std::uint8_t> bytes,
                                                   const Outcome& expected) {
    constexpr std::size_t edge = 8;
    std::vector<std::size_t> bounds{0};
    const auto single_bytes_to = [&](std::size_t end) {
        for (std::size_t at = bounds.back() + 1; at <= std::min(end, bytes.size()); ++at)
            bounds.push_back(at);
    };
    single_bytes_to(auth_preamble_fixed_size);
    if (!expected.failed) {
        const std::size_t padding = expected.padding_length;
        single_bytes_to(auth_preamble_fixed_size + std::min<std::size_t>(padding, edge));
        if (padding > 2 * edge && bytes.size() > bounds.back()) {
            bounds.push_back(std::min(bytes.size(), auth_preamble_fixed_size + padding - edge));
        }
        single_bytes_to(auth_preamble_fixed_size + padding);
    }
    if (bounds.back() != bytes.size()) bounds.push_back(bytes.size());
    return bounds;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzInput input(data, size);
    std::vector<std::uint16_t> cuts;
    const std::uint8_t flags = anytls::fuzz::take_cuts(input, cuts);
    const std::size_t max_padding = (flags & 0x1) ? input.take_u16() : reference_max_auth_padding;
    const auto bytes = input.rest();

    const Outcome expected = read_plainly(bytes, max_padding);
    FUZZ_CHECK(parse_in_chunks(bytes, {0, bytes.size()}, max_padding) == expected);
    FUZZ_CHECK(parse_in_chunks(bytes, anytls::fuzz::chunk_bounds(cuts, bytes.size()),
                               max_padding) == expected);
    FUZZ_CHECK(parse_in_chunks(bytes, byte_reads_at_transitions(bytes, expected), max_padding) ==
               expected);
    if (expected.done) check_round_trip(expected.hash, expected.padding_length, max_padding);
    return 0;
}
