// Fuzz target: FrameDecoder (lib/proto/frame_decoder.hpp), the parser of every byte a peer
// sends after the auth preamble.
//
// Input layout:
//     u8 head        low 4 bits: number of cuts; bit 4: append filler (below)
//     u16 cuts[n]    where the stream is cut into reads (modulo stream size + 1)
//     [bit 4: u16 filler count]
//     stream         the rest, followed by that many filler bytes 0x02 (so a short input can
//                    describe a frame with up to 65535 data bytes; a run of 0x02 bytes reads
//                    as PSH frames of 514 bytes, not thousands of tiny frames that would make
//                    every run slow)
//
// Invariants:
//   - the frames equal those of a plain reading of the wire format (frame.hpp: 7-byte header,
//     then `length` data bytes only for commands that carry data), and the decoder holds
//     exactly the bytes of the incomplete last frame;
//   - the same frames come out when the stream is fed whole, cut at the fuzz-chosen points,
//     or one byte at a time;
//   - next() returns nullopt only once its input is used up, and a data-less command never
//     carries data;
//   - the decoder never holds more than 7 + 65535 bytes;
//   - with split_stream_data(true), whole or cut: the same frames other than PSH, in order,
//     and the same bytes per stream from PSH frames (including what has arrived of an
//     unfinished last PSH, whose parts are already out).
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "fuzz_input.hpp"
#include "proto/frame_decoder.hpp"

namespace {

using anytls::fuzz::FuzzInput;
using namespace anytls::proto;

struct Decoded {
    std::vector<Frame> frames;
    std::size_t buffered = 0;  // bytes of the unfinished frame at the end
};

// The big-endian stream id of a 7-byte header.
std::uint32_t stream_id_of(const std::uint8_t* header) {
    return (std::uint32_t{header[1]} << 24) | (std::uint32_t{header[2]} << 16) | (std::uint32_t{header[3]} << 8) |
           std::uint32_t{header[4]};
}

// The wire format read directly from the whole stream.
Decoded read_plainly(std::span<const std::uint8_t> stream) {
    Decoded out;
    std::size_t position = 0;
    while (stream.size() - position >= frame_header_size) {
        const std::uint8_t* header = stream.data() + position;
        const auto command = static_cast<Command>(header[0]);
        const std::uint32_t stream_id = stream_id_of(header);
        const std::size_t length = (std::size_t{header[5]} << 8) | header[6];
        const std::size_t data_size = command_carries_data(command) ? length : 0;
        if (stream.size() - position - frame_header_size < data_size) break;
        const auto data = stream.subspan(position + frame_header_size, data_size);
        out.frames.push_back(Frame{command, stream_id, {data.begin(), data.end()}});
        position += frame_header_size + data_size;
    }
    out.buffered = stream.size() - position;
    return out;
}

// Feeds one chunk, collecting the frames and checking the per-call invariants.
void feed(FrameDecoder& decoder, std::span<const std::uint8_t> chunk, std::vector<Frame>& frames) {
    while (true) {
        const std::size_t before = chunk.size();
        const auto frame = decoder.next(chunk);
        FUZZ_CHECK(decoder.buffered() <= frame_header_size + max_frame_data);
        FUZZ_CHECK(chunk.size() <= before);
        if (!frame) {
            FUZZ_CHECK(chunk.empty());
            return;
        }
        if (!command_carries_data(frame->command)) FUZZ_CHECK(frame->data.empty());
        FUZZ_CHECK(frame->data.size() <= max_frame_data);
        frames.push_back(frame->copy());
    }
}

Decoded decode_in_chunks(std::span<const std::uint8_t> stream, const std::vector<std::size_t>& bounds,
                         bool split = false) {
    FrameDecoder decoder;
    decoder.split_stream_data(split);
    Decoded out;
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
        feed(decoder, stream.subspan(bounds[i], bounds[i + 1] - bounds[i]), out.frames);
    }
    out.buffered = decoder.buffered();
    FUZZ_CHECK(decoder.at_frame_boundary() == (out.buffered == 0));
    return out;
}

void check_same(const Decoded& expected, const Decoded& actual) {
    FUZZ_CHECK(actual.frames.size() == expected.frames.size());
    FUZZ_CHECK(actual.frames == expected.frames);
    FUZZ_CHECK(actual.buffered == expected.buffered);
}

// What a split decoder must preserve: the other frames in order, and each stream's bytes.
struct StreamData {
    std::vector<Frame> others;
    std::map<std::uint32_t, std::vector<std::uint8_t>> bytes;
    bool operator==(const StreamData&) const = default;
};

StreamData stream_data_of(const std::vector<Frame>& frames) {
    StreamData out;
    for (const auto& frame : frames) {
        if (frame.command != Command::psh) {
            out.others.push_back(frame);
        } else if (!frame.data.empty()) {
            auto& into = out.bytes[frame.stream_id];
            into.insert(into.end(), frame.data.begin(), frame.data.end());
        }
    }
    return out;
}

void check_split(std::span<const std::uint8_t> stream, const Decoded& plain, const std::vector<std::size_t>& bounds) {
    StreamData want = stream_data_of(plain.frames);
    if (plain.buffered >= frame_header_size) {
        const std::uint8_t* header = stream.data() + (stream.size() - plain.buffered);
        if (static_cast<Command>(header[0]) == Command::psh && plain.buffered > frame_header_size) {
            auto& into = want.bytes[stream_id_of(header)];
            into.insert(into.end(), header + frame_header_size, stream.data() + stream.size());
        }
    }
    FUZZ_CHECK(stream_data_of(decode_in_chunks(stream, bounds, true).frames) == want);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    FuzzInput input(data, size);
    std::vector<std::uint16_t> cuts;
    const std::uint8_t flags = anytls::fuzz::take_cuts(input, cuts);
    const std::size_t filler_count = (flags & 0x1) ? input.take_u16() : 0;
    std::vector<std::uint8_t> stream(input.rest().begin(), input.rest().end());
    stream.insert(stream.end(), filler_count, std::uint8_t{0x02});

    const Decoded expected = read_plainly(stream);

    check_same(expected, decode_in_chunks(stream, {0, stream.size()}));
    check_same(expected, decode_in_chunks(stream, anytls::fuzz::chunk_bounds(cuts, stream.size())));
    check_split(stream, expected, {0, stream.size()});
    check_split(stream, expected, anytls::fuzz::chunk_bounds(cuts, stream.size()));
    if (stream.size() <= 4096) {  // every byte its own read: slow, so not with a long filler
        std::vector<std::size_t> every_byte(stream.size() + 1);
        for (std::size_t i = 0; i < every_byte.size(); ++i) every_byte[i] = i;
        check_same(expected, decode_in_chunks(stream, every_byte));
    }
    return 0;
}
