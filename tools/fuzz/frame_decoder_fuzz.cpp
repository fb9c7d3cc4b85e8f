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
//     or with every transition of the decoder in a read of one byte (each header byte, the
//     first and last 8 data bytes of each frame; over the input's own bytes and the first
//     two filler frames);
//   - next() returns nullopt only once its input is used up, and a data-less command never
//     carries data;
//   - the decoder never holds more than 7 + 65535 bytes;
//   - with split_stream_data(true), for the same three ways of cutting: the same frames in
//     the same order, except that a PSH may come as parts (same stream id, never empty) whose
//     data joins up to its data; what has arrived of an unfinished last PSH is already out.
//
// Speed (docs/RELIABILITY.md, Fuzzing): each decoding is checked frame by frame as the frames
// come out, against views into the stream, so no frame is copied and no list of frames is
// built per decoding; reading single bytes only where the decoder changes state keeps a run
// short when a long frame's data is in the middle.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "fuzz_input.hpp"
#include "proto/frame_decoder.hpp"

// ASAN_(UN)POISON_MEMORY_REGION: no-ops in a build without ASan.
#if defined(__has_include) && __has_include(<sanitizer/asan_interface.h>)
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

namespace {

using anytls::fuzz::FuzzInput;
using namespace anytls::proto;
using Bytes = std::span<const std::uint8_t>;

// The big-endian stream id of a 7-byte header.
std::uint32_t stream_id_of(const std::uint8_t* header) {
    return (std::uint32_t{header[1]} << 24) | (std::uint32_t{header[2]} << 16) |
           (std::uint32_t{header[3]} << 8) | std::uint32_t{header[4]};
}

// A view of the very bytes expected (a frame handed out in place) is equal without reading it;
// a frame the decoder assembled in its own buffer is compared byte by byte.
bool same_bytes(Bytes a, Bytes b) {
    if (a.size() != b.size()) return false;
    return a.data() == b.data() || std::equal(a.begin(), a.end(), b.begin());
}

// The wire format read directly from the whole stream: the frames, as views into it.
struct Expected {
    std::vector<FrameView> frames;
    std::size_t buffered = 0;  // bytes of the unfinished frame at the end
    // What a split decoder has handed out of an unfinished last PSH: the data that arrived.
    std::optional<FrameView> partial_psh;
};

// Fills `out` (kept from run to run, so its frame list does not grow anew each time).
void read_plainly(Bytes stream, Expected& out) {
    out.frames.clear();
    out.partial_psh.reset();
    std::size_t position = 0;
    while (stream.size() - position >= frame_header_size) {
        const std::uint8_t* header = stream.data() + position;
        const auto command = static_cast<Command>(header[0]);
        const std::uint32_t stream_id = stream_id_of(header);
        const std::size_t length = (std::size_t{header[5]} << 8) | header[6];
        const std::size_t data_size = command_carries_data(command) ? length : 0;
        if (stream.size() - position - frame_header_size < data_size) break;
        out.frames.push_back(
            FrameView{command, stream_id, stream.subspan(position + frame_header_size, data_size)});
        position += frame_header_size + data_size;
    }
    out.buffered = stream.size() - position;
    if (out.buffered > frame_header_size) {
        const std::uint8_t* header = stream.data() + position;
        if (static_cast<Command>(header[0]) == Command::psh) {
            out.partial_psh = FrameView{Command::psh, stream_id_of(header),
                                        stream.subspan(position + frame_header_size)};
        }
    }
}

// Where a decoding stands against the expected frames; each frame is checked as it comes out
// (a view is only valid until the next call of next()).
class Checker {
public:
    Checker(const Expected& expected, bool split) : expected_(expected), split_(split) {}

    void frame(const FrameView& frame) {
        if (!command_carries_data(frame.command)) FUZZ_CHECK(frame.data.empty());
        FUZZ_CHECK(frame.data.size() <= max_frame_data);
        const FrameView* want = current();
        FUZZ_CHECK(want != nullptr);  // no more frames than the plain reading
        FUZZ_CHECK(frame.command == want->command && frame.stream_id == want->stream_id);
        if (!split_ || frame.command != Command::psh ||
            (offset_ == 0 && frame.data.size() == want->data.size())) {
            FUZZ_CHECK(offset_ == 0);
            FUZZ_CHECK(same_bytes(frame.data, want->data));
            advance();
            return;
        }
        // A part of a PSH: never empty, the next bytes of its data.
        FUZZ_CHECK(!frame.data.empty());
        FUZZ_CHECK(frame.data.size() <= want->data.size() - offset_);
        FUZZ_CHECK(same_bytes(frame.data, want->data.subspan(offset_, frame.data.size())));
        offset_ += frame.data.size();
        if (offset_ == want->data.size()) advance();
    }

    void finish(const FrameDecoder& decoder) {
        // A split decoder holds only the header of a PSH it passes through.
        const bool passing = split_ && expected_.partial_psh;
        FUZZ_CHECK(decoder.buffered() == (passing ? frame_header_size : expected_.buffered));
        FUZZ_CHECK(decoder.at_frame_boundary() == (decoder.buffered() == 0));
        FUZZ_CHECK(index_ == expected_.frames.size());  // every frame came out
        if (split_ && expected_.partial_psh) {
            // Every byte of the unfinished PSH that arrived is out.
            FUZZ_CHECK(partial_done_);
        } else {
            FUZZ_CHECK(offset_ == 0);
        }
    }

private:
    const FrameView* current() const {
        if (index_ < expected_.frames.size()) return &expected_.frames[index_];
        if (split_ && expected_.partial_psh && !partial_done_) return &*expected_.partial_psh;
        return nullptr;
    }
    void advance() {
        offset_ = 0;
        if (index_ < expected_.frames.size()) {
            ++index_;
        } else {
            partial_done_ = true;
        }
    }

    const Expected& expected_;
    const bool split_;
    std::size_t index_ = 0;   // the next expected frame
    std::size_t offset_ = 0;  // bytes of its data already handed out in parts
    bool partial_done_ = false;
};

// Feeds one chunk, checking each frame and the per-call invariants.
void feed(FrameDecoder& decoder, Bytes chunk, Checker& checker) {
    while (true) {
        const std::size_t before = chunk.size();
        const auto frame = decoder.next(chunk);
        FUZZ_CHECK(decoder.buffered() <= frame_header_size + max_frame_data);
        FUZZ_CHECK(chunk.size() <= before);
        if (!frame) {
            FUZZ_CHECK(chunk.empty());
            return;
        }
        checker.frame(*frame);
    }
}

// Decodes the stream cut at `bounds` (sorted, from 0 to the stream size).
void check_decoding(Bytes stream, const Expected& expected, const std::vector<std::size_t>& bounds,
                    bool split) {
    // One decoder for every decoding, reset to a new one's state each time: a new decoder per
    // decoding allocated its buffer for split frames (up to 64 KiB, with ASan's fill and the
    // page faults of fresh memory) six times a run.
    static FrameDecoder decoder;
    decoder.reset();
    decoder.split_stream_data(split);
    Checker checker(expected, split);
    for (std::size_t i = 0; i + 1 < bounds.size(); ++i) {
        feed(decoder, stream.subspan(bounds[i], bounds[i + 1] - bounds[i]), checker);
    }
    checker.finish(decoder);
}

// Cut points that make every transition of the decoder happen in a read of one byte: each
// header byte, and the first and last `edge` data bytes of every frame, are a read of their
// own; the data between them (where the decoder only collects) is one read. Up to `limit`
// bytes of the stream; the rest is one read.
// Fills `bounds` (its contents replaced).
void byte_reads_at_transitions(Bytes stream, const Expected& expected, std::size_t limit,
                               std::vector<std::size_t>& bounds) {
    constexpr std::size_t edge = 8;
    bounds.clear();
    bounds.push_back(0);
    const auto single_bytes_to = [&](std::size_t end) {
        for (std::size_t at = bounds.back() + 1; at <= std::min(end, limit); ++at)
            bounds.push_back(at);
    };
    const auto one_read_to = [&](std::size_t end) {
        if (std::min(end, limit) > bounds.back()) bounds.push_back(std::min(end, limit));
    };
    const auto frame_at = [&](std::size_t start, std::size_t data_size) {
        single_bytes_to(start + frame_header_size + std::min(data_size, edge));
        if (data_size > 2 * edge) one_read_to(start + frame_header_size + data_size - edge);
        single_bytes_to(start + frame_header_size + data_size);
    };
    for (const FrameView& frame : expected.frames) {
        const auto start =
            static_cast<std::size_t>(frame.data.data() - stream.data()) - frame_header_size;
        if (start >= limit) break;
        frame_at(start, frame.data.size());
    }
    // The unfinished last frame: its header bytes and the start of its data.
    const std::size_t rest = stream.size() - expected.buffered;
    if (rest < limit) single_bytes_to(std::min(stream.size(), rest + frame_header_size + edge));
    if (bounds.back() != stream.size()) bounds.push_back(stream.size());
}

// The stream buffer, kept from run to run. Its unused capacity is poisoned for ASan, so a read
// past the stream's end is still caught as it was with a buffer of the stream's exact size;
// only a fresh allocation per run (up to 64 KiB of filler, filled by ASan, faulted in page by
// page) is saved.
class StreamBuffer {
public:
    // Replaces the contents with `bytes` then `filler_count` filler bytes.
    Bytes fill(Bytes bytes, std::size_t filler_count) {
        ASAN_UNPOISON_MEMORY_REGION(buffer_.data(), buffer_.capacity());
        buffer_.clear();
        buffer_.reserve(bytes.size() + filler_count);
        buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
        buffer_.insert(buffer_.end(), filler_count, std::uint8_t{0x02});
        ASAN_POISON_MEMORY_REGION(buffer_.data() + buffer_.size(),
                                  buffer_.capacity() - buffer_.size());
        return buffer_;
    }

private:
    std::vector<std::uint8_t> buffer_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // The harness's own lists, the stream and the decoder are kept from run to run (cleared,
    // not freed): a run allocates nothing once they have grown.
    static std::vector<std::uint16_t> cuts;
    static std::vector<std::size_t> whole;
    static std::vector<std::size_t> cut;
    static std::vector<std::size_t> transitions;
    FuzzInput input(data, size);
    cuts.clear();
    const std::uint8_t flags = anytls::fuzz::take_cuts(input, cuts);
    const std::size_t filler_count = (flags & 0x1) ? input.take_u16() : 0;
    static StreamBuffer buffer;
    const Bytes stream = buffer.fill(input.rest(), filler_count);

    static Expected expected;
    read_plainly(stream, expected);
    whole.assign({0, stream.size()});
    anytls::fuzz::chunk_bounds(cuts, stream.size(), cut);
    // One byte per read at every transition, over the bytes the input spells out and the
    // first two frames of filler (521 bytes each when aligned); the rest of a long filler
    // repeats the same frame.
    const std::size_t limit = (stream.size() - filler_count) + 2 * 521;
    byte_reads_at_transitions(stream, expected, limit, transitions);
    for (const bool split : {false, true}) {
        check_decoding(stream, expected, whole, split);
        check_decoding(stream, expected, cut, split);
        check_decoding(stream, expected, transitions, split);
    }
    return 0;
}
