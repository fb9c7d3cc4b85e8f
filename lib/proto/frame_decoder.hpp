// FrameDecoder: turns the received byte stream (after the auth preamble) into frames.
//
// TLS delivers the stream in reads of any size, so the decoder accepts chunks cut at any
// byte and returns each complete frame once. It mirrors the references' receive loop
// (sing-anytls session.go recvLoop): read the 7-byte header; for commands that carry data
// (command_carries_data) read `length` more bytes; for the others — SYN, FIN, HeartRequest,
// HeartResponse and any unknown command — read nothing more and ignore the length field, so
// data after such a header is parsed as the next frame(s). recvLoop's comment for unknown
// commands: "I don't know what command it is (can't have data)". mihomo's copy does the same.
// (One anytls-go server revision differs: it closes the session on an unknown command and
// reads HeartResponse data; since senders never attach data to these commands, the two agree
// on every stream a reference client produces.) Nothing is an error at this layer: every byte
// sequence decodes; meaning is checked by the session.
//
// Memory is bounded: the decoder holds at most one incomplete frame (7 header bytes plus up to
// 65535 data bytes) and copies only when a frame is split across chunks. A frame that lies
// wholly inside the chunk passed in is returned as a view into that chunk.
//
// Sessions read TLS one record (at most 16 KiB) at a time while PSH frames carry up to 64 KiB,
// so most bulk frames arrive split, and assembling them would copy every byte of stream data
// once more. With split_stream_data(true) the decoder hands PSH data out as it arrives instead:
// a PSH frame cut across chunks comes back as several views of the same command and stream id,
// each with the next part of its data, in order, never empty, and nothing is copied. Stream
// data is a byte stream (frame boundaries mean nothing to it); every other command is still
// returned whole.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "proto/frame.hpp"

namespace anytls::proto {

// A decoded frame that owns its data.
struct Frame {
    Command command{};
    std::uint32_t stream_id = 0;
    std::vector<std::uint8_t> data;

    bool operator==(const Frame&) const = default;
};

// A decoded frame whose data is borrowed: it points into the chunk given to
// FrameDecoder::next or into the decoder's own buffer, and stays valid until the next call of
// next() and as long as that chunk lives.
struct FrameView {
    Command command{};
    std::uint32_t stream_id = 0;
    std::span<const std::uint8_t> data;

    Frame copy() const { return Frame{command, stream_id, {data.begin(), data.end()}}; }
};

class FrameDecoder {
public:
    // Consumes bytes from the front of `input` (advancing it) until one frame is complete and
    // returns it; returns nullopt once `input` is used up in the middle of a frame (the partial
    // frame is kept for the next call). Typical use:
    //     while (auto frame = decoder.next(chunk)) handle(*frame);
    std::optional<FrameView> next(std::span<const std::uint8_t>& input);

    // See the header comment. Set before the first next() (or after reset()).
    void split_stream_data(bool on) { split_stream_data_ = on; }

    // Forgets any incomplete frame and the split_stream_data setting: the decoder is then like
    // a new one, except that it keeps the capacity of its buffer for split frames. A caller
    // that decodes many streams one after another (the frame_decoder fuzz target, six per
    // input) then allocates that buffer once rather than once per stream.
    void reset();

    // Bytes of an incomplete frame held inside (0 at a frame boundary). Never above
    // frame_header_size + max_frame_data.
    std::size_t buffered() const {
        return header_size_ + (in_data_ && !passing_through_ ? data_.size() : 0);
    }
    bool at_frame_boundary() const { return buffered() == 0; }

private:
    std::array<std::uint8_t, frame_header_size> header_{};
    std::size_t header_size_ = 0;  // header bytes held (stays 7 while collecting data)
    bool in_data_ = false;         // header complete, collecting data into data_
    bool split_stream_data_ = false;
    bool passing_through_ = false;  // in_data_ for a PSH handed out in parts (nothing in data_)
    Command command_{};             // of the frame whose data is being collected
    std::uint32_t stream_id_ = 0;
    std::size_t data_needed_ = 0;     // data bytes still missing for that frame
    std::vector<std::uint8_t> data_;  // data of a frame that arrived split; cleared lazily so
                                      // the last view returned stays valid until next()
};

}  // namespace anytls::proto
