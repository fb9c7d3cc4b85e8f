// FrameDecoder (see frame_decoder.hpp): a two-state machine, header then data.
#include "proto/frame_decoder.hpp"

#include <algorithm>

namespace anytls::proto {

std::optional<FrameView> FrameDecoder::next(std::span<const std::uint8_t>& input) {
    if (!in_data_) {
        // Collect the header.
        const std::size_t take = std::min(frame_header_size - header_size_, input.size());
        std::copy_n(input.begin(), take,
                    header_.begin() + static_cast<std::ptrdiff_t>(header_size_));
        header_size_ += take;
        input = input.subspan(take);
        if (header_size_ < frame_header_size) return std::nullopt;

        const auto command = static_cast<Command>(header_[0]);
        const std::uint32_t stream_id =
            (std::uint32_t{header_[1]} << 24) | (std::uint32_t{header_[2]} << 16) |
            (std::uint32_t{header_[3]} << 8) | std::uint32_t{header_[4]};
        const std::size_t length = (std::size_t{header_[5]} << 8) | std::size_t{header_[6]};

        // SYN, FIN, heartbeats and unknown commands: the header is the whole frame and the
        // length field is ignored, exactly as the references do (see the header comment).
        // A data-carrying frame whose data is already in this chunk is handed out as a view.
        if (!command_carries_data(command) || length == 0 || input.size() >= length) {
            header_size_ = 0;
            const std::size_t data_size = command_carries_data(command) ? length : 0;
            FrameView frame{command, stream_id, input.first(data_size)};
            input = input.subspan(data_size);
            return frame;
        }
        // The data continues in later chunks: collect it, or pass PSH data through in parts.
        in_data_ = true;
        command_ = command;
        stream_id_ = stream_id;
        data_needed_ = length;
        passing_through_ = split_stream_data_ && command == Command::psh;
        if (!passing_through_) {
            data_.clear();
            data_.reserve(length);
        }
    }

    if (passing_through_) {
        const std::size_t take = std::min(data_needed_, input.size());
        if (take == 0) return std::nullopt;
        FrameView part{command_, stream_id_, input.first(take)};
        data_needed_ -= take;
        input = input.subspan(take);
        if (data_needed_ == 0) {
            in_data_ = false;
            passing_through_ = false;
            header_size_ = 0;
        }
        return part;
    }

    const std::size_t take = std::min(data_needed_, input.size());
    data_.insert(data_.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(take));
    data_needed_ -= take;
    input = input.subspan(take);
    if (data_needed_ > 0) return std::nullopt;

    in_data_ = false;
    header_size_ = 0;
    return FrameView{command_, stream_id_, std::span<const std::uint8_t>(data_)};
}

void FrameDecoder::reset() {
    header_size_ = 0;
    in_data_ = false;
    split_stream_data_ = false;
    passing_through_ = false;
    command_ = Command{};
    stream_id_ = 0;
    data_needed_ = 0;
    data_.clear();
}

}  // namespace anytls::proto
