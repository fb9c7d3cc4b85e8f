// Fuzz target: PaddingScheme::parse and generate_sizes (lib/proto/padding_scheme.hpp), the
// parser of the scheme a server sends in UpdatePaddingScheme, and the client write padding
// built on it (lib/proto/write_padding.hpp: split_padded_write, pad_write, WritePadder).
//
// Input layout:
//     u16 scheme_size   then that many bytes: the scheme text (the default scheme is used for
//                       the write checks when it does not parse)
//     u8 line           a line number k for pad_write
//     u8 writes         number of WritePadder writes (low 4 bits)
//     u8 payload_mask   bit i set: write i+1 carries the payload, else it is empty
//     u8 random_size    then that many bytes: the draws of the RandomSource
//     records           the rest: the payload, as frames {u8 command, u8 stream, u8 length,
//                       data}; commands that carry no data get none
//
// Invariants:
//   - parse succeeds exactly when the text has a `stop` line holding a Go integer; then raw()
//     is the text, md5_hex() its md5, stop() uint32(stop), and every token is a check mark or
//     a range 1 <= min <= max;
//   - generate_sizes gives one size per token, within the token's range;
//     auth_padding_length is its first size capped at 65535 (0 for none or a check mark);
//   - a padded write is the payload followed only by Waste frames (stream 0, zero bytes,
//     <= 65535 each): fed write by write to a FrameDecoder it gives back exactly the
//     payload's frames, then the Waste frames, ending on a frame boundary; the write sizes
//     follow the rules spelled out in write_padding.hpp; pad_write equals split_padded_write
//     of generate_sizes with the same draws;
//   - WritePadder numbers writes from 1, pads write k with line k while k < stop, and once a
//     write reaches stop pads nothing more.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/errors.hpp"
#include "fuzz_input.hpp"
#include "proto/digest.hpp"
#include "proto/frame.hpp"
#include "proto/frame_decoder.hpp"
#include "proto/go_int.hpp"
#include "proto/padding_scheme.hpp"
#include "proto/write_padding.hpp"

namespace {

using anytls::fuzz::FuzzInput;
using namespace anytls::proto;

// Line keys the scheme can use: canonical decimals up to 2^32 - 1.
bool is_line_key(std::string_view key, std::uint32_t& k) {
    if (key.empty() || key.size() > 10 || (key.size() > 1 && key.front() == '0')) return false;
    std::uint64_t value = 0;
    for (const char c : key) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    if (value > 0xffffffffu) return false;
    k = static_cast<std::uint32_t>(value);
    return true;
}

void check_tokens(std::span<const PaddingToken> tokens) {
    for (const PaddingToken& token : tokens) {
        if (token.check_mark) continue;
        FUZZ_CHECK(token.min >= 1);
        FUZZ_CHECK(token.min <= token.max);
    }
}

// The text read as Settings lines (settings.hpp: split on "\n", then at the first '='; lines
// without '=' are skipped; the last value of a key wins), kept from run to run: the last value
// of `stop`, and per write line its key and its value's commas. (A map of strings from
// parse_settings made most of a run's allocations; docs/RELIABILITY.md, Fuzzing.)
struct SchemeLines {
    std::optional<std::string_view> stop;
    struct WriteLine {
        std::uint32_t k;
        std::size_t position;  // of the line in the text: the last one of a key counts
        std::size_t commas;
    };
    std::vector<WriteLine> writes;  // only the last line of each key, sorted by key
};

void read_lines(std::string_view text, SchemeLines& out) {
    out.stop.reset();
    out.writes.clear();
    for (std::size_t position = 0;; ++position) {
        const std::size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        const std::size_t eq = line.find('=');
        if (eq != std::string_view::npos) {
            const std::string_view key = line.substr(0, eq);
            const std::string_view value = line.substr(eq + 1);
            std::uint32_t k = 0;
            if (key == "stop") out.stop = value;
            if (is_line_key(key, k)) {
                out.writes.push_back(
                    {k, position,
                     static_cast<std::size_t>(std::count(value.begin(), value.end(), ','))});
            }
        }
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
    }
    // Last line of each key: sort by key, then by position descending, and keep the first.
    std::sort(out.writes.begin(), out.writes.end(), [](const auto& a, const auto& b) {
        return a.k != b.k ? a.k < b.k : a.position > b.position;
    });
    out.writes.erase(std::unique(out.writes.begin(), out.writes.end(),
                                 [](const auto& a, const auto& b) { return a.k == b.k; }),
                     out.writes.end());
}

void check_scheme(std::string_view text, const anytls::Result<PaddingScheme>& parsed) {
    static SchemeLines lines;  // reused, see SchemeLines
    read_lines(text, lines);
    const bool valid = lines.stop && parse_go_int(*lines.stop).has_value();
    FUZZ_CHECK(parsed.ok() == valid);
    if (!parsed) {
        FUZZ_CHECK(parsed.code() == anytls::errc::protocol);
        return;
    }
    const PaddingScheme& scheme = parsed.value();
    FUZZ_CHECK(scheme.raw() == text);
    const auto digest = md5(text);
    FUZZ_CHECK(digest.ok() && scheme.md5_hex() == to_hex(digest.value()));
    FUZZ_CHECK(scheme.md5_hex().size() == 32);
    if (text == default_padding_scheme_text)
        FUZZ_CHECK(scheme.md5_hex() == "75cff2ad89aadf5e257059ee571ebe11");
    FUZZ_CHECK(scheme.stop() ==
               static_cast<std::uint32_t>(static_cast<std::uint64_t>(*parse_go_int(*lines.stop))));
    for (const SchemeLines::WriteLine& line : lines.writes) {
        const auto tokens = scheme.tokens(line.k);
        // At most one token per comma-separated part.
        FUZZ_CHECK(tokens.size() <= line.commas + 1);
        check_tokens(tokens);
    }
}

void check_sizes(const PaddingScheme& scheme, std::uint32_t k,
                 std::span<const std::uint8_t> draws) {
    const auto tokens = scheme.tokens(k);
    const auto sizes = scheme.generate_sizes(k, anytls::fuzz::input_random_source(draws));
    FUZZ_CHECK(sizes.size() == tokens.size());
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        if (tokens[i].check_mark) {
            FUZZ_CHECK(sizes[i] == padding_check_mark);
        } else if (tokens[i].min == tokens[i].max) {
            FUZZ_CHECK(sizes[i] == tokens[i].min);
        } else {
            FUZZ_CHECK(sizes[i] >= tokens[i].min && sizes[i] < tokens[i].max);
        }
    }
    if (k == 0) {
        const std::uint16_t length =
            scheme.auth_padding_length(anytls::fuzz::input_random_source(draws));
        const std::int64_t first = sizes.empty() ? 0 : sizes.front();
        FUZZ_CHECK(length == (first <= 0 ? 0 : std::min<std::int64_t>(first, 65535)));
    }
}

// The write sizes described in write_padding.hpp, computed directly, into `writes` (its
// contents replaced; kept from call to call, as a run makes up to 16).
void expected_write_sizes(std::span<const std::int64_t> sizes, std::size_t payload_size,
                          std::vector<std::size_t>& writes) {
    writes.clear();
    std::size_t left = payload_size;
    const auto waste = [](std::int64_t n) {
        return frame_header_size +
               static_cast<std::size_t>(std::min<std::int64_t>(n, max_frame_data));
    };
    for (const std::int64_t size : sizes) {
        if (size == padding_check_mark) {
            if (left == 0) break;
            continue;
        }
        FUZZ_CHECK(size > 0);
        const auto piece = static_cast<std::uint64_t>(size);
        if (left > piece) {
            writes.push_back(static_cast<std::size_t>(piece));
            left -= static_cast<std::size_t>(piece);
        } else if (left > 0) {
            const std::int64_t gap = size - static_cast<std::int64_t>(left) -
                                     static_cast<std::int64_t>(frame_header_size);
            writes.push_back(left + (gap > 0 ? waste(gap) : 0));
            left = 0;
        } else {
            writes.push_back(waste(size));
        }
    }
    if (left > 0) writes.push_back(left);
}

bool same_frame(const FrameView& a, const FrameView& b) {
    return a.command == b.command && a.stream_id == b.stream_id && a.data.size() == b.data.size() &&
           std::equal(a.data.begin(), a.data.end(), b.data.begin());
}

// Decodes a byte stream that is whole frames, nothing left over, into views of it. The list is
// kept from call to call (a run makes several), so it does not grow anew each time.
const std::vector<FrameView>& frames_of(std::span<const std::uint8_t> bytes,
                                        std::vector<FrameView>& frames) {
    FrameDecoder decoder;
    frames.clear();
    // Whole frames in one chunk are handed out as views into it (frame_decoder.hpp).
    while (auto frame = decoder.next(bytes)) frames.push_back(*frame);
    FUZZ_CHECK(decoder.at_frame_boundary());
    return frames;
}

void check_padded(const PaddedWrite& padded, std::span<const std::int64_t> sizes,
                  std::span<const std::uint8_t> payload) {
    static std::vector<FrameView> frames;  // reused, see frames_of
    static std::vector<std::size_t> expected_sizes;
    expected_write_sizes(sizes, payload.size(), expected_sizes);
    // Write bookkeeping: the expected write sizes; increasing ends, non-empty writes that add
    // up to the bytes. (The sizes are compared write by write rather than as a write_sizes()
    // list, which would be one more allocation per call.)
    FUZZ_CHECK(padded.write_count() == expected_sizes.size());
    std::size_t previous = 0;
    for (std::size_t i = 0; i < padded.write_count(); ++i) {
        FUZZ_CHECK(padded.write_ends[i] > previous);
        const auto write = padded.write(i);
        FUZZ_CHECK(write.size() == padded.write_ends[i] - previous);
        FUZZ_CHECK(write.size() == expected_sizes[i]);
        FUZZ_CHECK(std::equal(write.begin(), write.end(),
                              padded.bytes.begin() + static_cast<std::ptrdiff_t>(previous)));
        previous = padded.write_ends[i];
    }
    FUZZ_CHECK(previous == padded.bytes.size());

    // The payload comes first, unchanged; only Waste frames follow it.
    FUZZ_CHECK(padded.bytes.size() >= payload.size());
    FUZZ_CHECK(std::equal(payload.begin(), payload.end(), padded.bytes.begin()));
    const auto tail = std::span<const std::uint8_t>(padded.bytes).subspan(payload.size());
    for (const FrameView& frame : frames_of(tail, frames)) {
        FUZZ_CHECK(frame.command == Command::waste);
        FUZZ_CHECK(frame.stream_id == control_stream_id);
        FUZZ_CHECK(std::all_of(frame.data.begin(), frame.data.end(),
                               [](std::uint8_t b) { return b == 0; }));
    }

    // What the peer sees, fed one TLS write at a time: the payload's frames, then Waste.
    const std::vector<FrameView>& payload_frames = frames_of(payload, frames);
    FrameDecoder decoder;
    std::size_t received = 0;
    for (std::size_t i = 0; i < padded.write_count(); ++i) {
        auto write = padded.write(i);
        while (auto frame = decoder.next(write)) {
            // A view lives until the next call: compare it now.
            if (received < payload_frames.size())
                FUZZ_CHECK(same_frame(*frame, payload_frames[received]));
            ++received;
        }
    }
    FUZZ_CHECK(decoder.at_frame_boundary());
    FUZZ_CHECK(received >= payload_frames.size());
}

void check_pad_write(const PaddingScheme& scheme, std::uint32_t k,
                     std::span<const std::uint8_t> payload, std::span<const std::uint8_t> draws) {
    const PaddedWrite padded =
        pad_write(scheme, k, payload, anytls::fuzz::input_random_source(draws));
    const std::vector<std::int64_t> sizes =
        k >= scheme.stop() ? std::vector<std::int64_t>{}
                           : scheme.generate_sizes(k, anytls::fuzz::input_random_source(draws));
    const PaddedWrite direct = split_padded_write(sizes, payload);
    FUZZ_CHECK(padded.bytes == direct.bytes && padded.write_ends == direct.write_ends);
    check_padded(padded, sizes, payload);
}

void check_write_padder(const PaddingScheme& scheme, std::size_t writes, std::uint8_t payload_mask,
                        std::span<const std::uint8_t> payload,
                        std::span<const std::uint8_t> draws) {
    WritePadder padder;
    // One source for the padder, one for the expected values: the same draws in the same order.
    const RandomSource padder_random = anytls::fuzz::input_random_source(draws);
    const RandomSource expected_random = anytls::fuzz::input_random_source(draws);
    bool over = false;
    for (std::uint32_t k = 1; k <= writes; ++k) {
        const auto this_payload =
            (payload_mask >> ((k - 1) % 8)) & 1 ? payload : std::span<const std::uint8_t>{};
        const auto planned = padder.next(scheme, this_payload, padder_random);
        if (over || k >= scheme.stop()) {
            over = true;
            FUZZ_CHECK(!planned);
            FUZZ_CHECK(padder.padding_over());
            FUZZ_CHECK(padder.writes_numbered() <= k);
            continue;
        }
        FUZZ_CHECK(planned.has_value());
        FUZZ_CHECK(!padder.padding_over());
        FUZZ_CHECK(padder.writes_numbered() == k);
        const auto sizes = scheme.generate_sizes(k, expected_random);
        check_padded(*planned, sizes, this_payload);
    }
}

// Fills `out` (its contents replaced) with the payload the records spell.
void payload_frames(std::span<const std::uint8_t> records, std::vector<std::uint8_t>& out) {
    FuzzInput input(records.data(), records.size());
    out.clear();
    while (input.remaining() > 0) {
        const auto command = static_cast<Command>(input.take_u8());
        const std::uint8_t stream = input.take_u8();
        const std::uint8_t length = input.take_u8();
        const auto data = input.take_bytes(length);
        const auto appended =
            append_frame(out, command, stream,
                         command_carries_data(command) ? data : std::span<const std::uint8_t>{});
        FUZZ_CHECK(appended.ok());
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzInput input(data, size);
    const std::string_view text = input.take_text(input.take_u16());
    const std::uint32_t line = input.take_u8();
    const std::size_t writes = input.take_u8() & 0x0f;
    const std::uint8_t payload_mask = input.take_u8();
    const auto draws = input.take_bytes(input.take_u8());
    // Kept from run to run (cleared, not freed), like the harness's other lists.
    static std::vector<std::uint8_t> payload;
    payload_frames(input.rest(), payload);

    const auto parsed = PaddingScheme::parse(text);
    check_scheme(text, parsed);
    const PaddingScheme& scheme = parsed ? parsed.value() : PaddingScheme::default_scheme();

    check_sizes(scheme, 0, draws);
    check_sizes(scheme, line, draws);
    check_pad_write(scheme, line, payload, draws);
    check_write_padder(scheme, writes, payload_mask, payload, draws);
    return 0;
}
