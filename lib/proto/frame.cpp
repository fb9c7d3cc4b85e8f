// Frame encoder (see frame.hpp): writes headers big-endian, chunks large writes into PSH frames.
#include "proto/frame.hpp"

#include <algorithm>

#include "base/errors.hpp"

namespace anytls::proto {

std::string_view command_name(Command command) {
    switch (command) {
        case Command::waste:
            return "waste";
        case Command::syn:
            return "syn";
        case Command::psh:
            return "psh";
        case Command::fin:
            return "fin";
        case Command::settings:
            return "settings";
        case Command::alert:
            return "alert";
        case Command::update_padding_scheme:
            return "update-padding-scheme";
        case Command::synack:
            return "synack";
        case Command::heart_request:
            return "heart-request";
        case Command::heart_response:
            return "heart-response";
        case Command::server_settings:
            return "server-settings";
    }
    return "unknown";
}

std::array<std::uint8_t, frame_header_size> frame_header(Command command, std::uint32_t stream_id,
                                                         std::uint16_t length) {
    return {
        static_cast<std::uint8_t>(command),         static_cast<std::uint8_t>(stream_id >> 24),
        static_cast<std::uint8_t>(stream_id >> 16), static_cast<std::uint8_t>(stream_id >> 8),
        static_cast<std::uint8_t>(stream_id),       static_cast<std::uint8_t>(length >> 8),
        static_cast<std::uint8_t>(length),
    };
}

void append_frame_header(std::vector<std::uint8_t>& out, Command command, std::uint32_t stream_id,
                         std::uint16_t length) {
    const auto header = frame_header(command, stream_id, length);
    out.insert(out.end(), header.begin(), header.end());
}

Result<void> append_frame(std::vector<std::uint8_t>& out, Command command, std::uint32_t stream_id,
                          std::span<const std::uint8_t> data) {
    if (data.size() > max_frame_data) {
        return make_error(errc::invalid_argument,
                          "frame data of " + std::to_string(data.size()) + " bytes exceeds 65535");
    }
    out.reserve(out.size() + frame_header_size + data.size());
    append_frame_header(out, command, stream_id, static_cast<std::uint16_t>(data.size()));
    out.insert(out.end(), data.begin(), data.end());
    return {};
}

Result<void> append_frame(std::vector<std::uint8_t>& out, Command command, std::uint32_t stream_id,
                          std::string_view text) {
    return append_frame(out, command, stream_id,
                        std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

void append_data_frames(std::vector<std::uint8_t>& out, std::uint32_t stream_id,
                        std::span<const std::uint8_t> data) {
    out.reserve(out.size() + data_frames_size(data.size()));
    while (!data.empty()) {
        const std::size_t chunk = std::min(data.size(), max_frame_data);
        append_frame_header(out, Command::psh, stream_id, static_cast<std::uint16_t>(chunk));
        out.insert(out.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(chunk));
        data = data.subspan(chunk);
    }
}

}  // namespace anytls::proto
