// Frame layout and encoder: the unit of the AnyTLS session layer (docs/DESIGN.md, "Frames").
//
// After the auth preamble, both directions of the TLS connection carry a plain byte stream of
//     u8 command | u32 stream id (big-endian) | u16 data length (big-endian) | data
// (anytls-go proxy/session/frame.go: FrameHeaderSize = 7, MaxFrameSize = 65535). Frames are
// not aligned to TLS records: a record may hold several frames or a fraction of one, which is
// why decoding (frame_decoder.hpp) works on a byte stream. This file only writes frames.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace anytls::proto {

// 1 (command) + 4 (stream id) + 2 (data length): frame.go FrameHeaderSize.
inline constexpr std::size_t frame_header_size = 7;
// The length field is a u16, so one frame carries at most 65535 data bytes: frame.go
// MaxFrameSize. Larger stream writes are cut into several PSH frames (append_data_frames).
inline constexpr std::size_t max_frame_data = 65535;

// Control frames (Settings, Alert, UpdatePaddingScheme, ServerSettings, Waste) use stream 0;
// client streams are numbered from 1 (session.go OpenStream: streamId.Add(1)).
inline constexpr std::uint32_t control_stream_id = 0;

// Commands, numbered as in frame.go. 7..10 exist since protocol version 2. The enum has a
// fixed u8 base so a decoded byte outside this list is still representable; is_known_command
// tells them apart.
enum class Command : std::uint8_t {
    waste = 0,                  // padding; data is read and dropped
    syn = 1,                    // open a stream (no data)
    psh = 2,                    // stream data
    fin = 3,                    // close a stream (no data)
    settings = 4,               // client -> server, key=value lines (settings.hpp)
    alert = 5,                  // server -> client, text; the session then closes
    update_padding_scheme = 6,  // server -> client, raw padding scheme text
    synack = 7,                 // v2: server -> client; empty = connected, text = error
    heart_request = 8,          // v2: keepalive probe, answered on the same stream id
    heart_response = 9,         // v2
    server_settings = 10,       // v2: server -> client, key=value lines
};

constexpr bool is_known_command(Command command) {
    return static_cast<std::uint8_t>(command) <=
           static_cast<std::uint8_t>(Command::server_settings);
}

// Whether the receiver reads `length` data bytes after the header. The references read data
// only for these commands; for SYN, FIN, HeartRequest, HeartResponse and unknown commands
// they read the 7-byte header and nothing else, so any data sent with them would be parsed
// as further frames (sing-anytls session.go recvLoop; mihomo transport/anytls the same).
// Senders therefore never attach data to them.
constexpr bool command_carries_data(Command command) {
    switch (command) {
        case Command::waste:
        case Command::psh:
        case Command::settings:
        case Command::alert:
        case Command::update_padding_scheme:
        case Command::synack:
        case Command::server_settings:
            return true;
        default:
            return false;
    }
}

// A short lower-case name for logs ("psh", "update-padding-scheme"); "unknown" otherwise.
std::string_view command_name(Command command);

// The 7 header bytes of a frame.
std::array<std::uint8_t, frame_header_size> frame_header(Command command, std::uint32_t stream_id,
                                                         std::uint16_t length);

// Appends a frame header to `out`.
void append_frame_header(std::vector<std::uint8_t>& out, Command command, std::uint32_t stream_id,
                         std::uint16_t length);

// Appends one whole frame. Fails with errc::invalid_argument if data is longer than
// max_frame_data (the Go references would silently truncate the length field there).
Result<void> append_frame(std::vector<std::uint8_t>& out, Command command, std::uint32_t stream_id,
                          std::span<const std::uint8_t> data);
Result<void> append_frame(std::vector<std::uint8_t>& out, Command command, std::uint32_t stream_id,
                          std::string_view text);

// Appends `data` as PSH frames of at most max_frame_data bytes each, in order, like
// sing-anytls session.go writeDataFrame. Empty data appends nothing (writeDataFrame returns
// early: a zero-length PSH is never sent).
void append_data_frames(std::vector<std::uint8_t>& out, std::uint32_t stream_id,
                        std::span<const std::uint8_t> data);

// How many bytes append_data_frames adds for `data_size` bytes of data.
constexpr std::size_t data_frames_size(std::size_t data_size) {
    const std::size_t frames = (data_size + max_frame_data - 1) / max_frame_data;
    return data_size + frames * frame_header_size;
}

}  // namespace anytls::proto
