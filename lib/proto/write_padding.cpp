// Client write padding (see write_padding.hpp): a transcription of writeConn's loop that
// records writes instead of issuing them.
#include "proto/write_padding.hpp"

#include <algorithm>

#include "proto/frame.hpp"

namespace anytls::proto {

namespace {

// The data length of a Waste frame asked to carry `size` zero bytes (capped at 65535, see the
// header comment).
std::size_t waste_length(std::int64_t size) {
    return static_cast<std::size_t>(std::min<std::int64_t>(size, max_frame_data));
}

// The walk of writeConn's loop over `sizes`, told to a sink as pieces of payload, Waste frames
// and write ends. It runs twice per padded write: once to count the bytes and writes, so that
// both vectors of the result are allocated once (a Waste frame of up to 64 KiB would otherwise
// regrow the bytes), and once to write them.
template <class Sink>
void walk(std::span<const std::int64_t> sizes, std::span<const std::uint8_t> payload, Sink& sink) {
    for (const std::int64_t size : sizes) {
        const std::size_t remaining = payload.size();
        if (size == padding_check_mark) {
            if (remaining == 0) break;  // check mark: nothing left to hide, stop padding
            continue;
        }
        if (size <= 0) continue;  // never produced by PaddingScheme; be safe with hand-made lists
        const auto piece = static_cast<std::uint64_t>(size);
        if (remaining > piece) {
            // This write is all payload.
            sink.payload(payload.first(static_cast<std::size_t>(piece)));
            payload = payload.subspan(static_cast<std::size_t>(piece));
            sink.end_write();
        } else if (remaining > 0) {
            // The last of the payload, then padding up to `size` bytes if a Waste frame fits.
            sink.payload(payload);
            payload = {};
            const std::int64_t padding = size - static_cast<std::int64_t>(remaining) -
                                         static_cast<std::int64_t>(frame_header_size);
            if (padding > 0) sink.waste(waste_length(padding));
            sink.end_write();
        } else {
            // Nothing left: this write is all padding, a Waste frame of `size` data bytes.
            sink.waste(waste_length(size));
            sink.end_write();
        }
    }
    if (!payload.empty()) {
        sink.payload(payload);
        sink.end_write();
    }
}

}  // namespace

std::span<const std::uint8_t> PaddedWrite::write(std::size_t i) const {
    const std::size_t begin = i == 0 ? 0 : write_ends[i - 1];
    return std::span<const std::uint8_t>(bytes).subspan(begin, write_ends[i] - begin);
}

std::vector<std::size_t> PaddedWrite::write_sizes() const {
    std::vector<std::size_t> sizes;
    sizes.reserve(write_ends.size());
    std::size_t begin = 0;
    for (const std::size_t end : write_ends) {
        sizes.push_back(end - begin);
        begin = end;
    }
    return sizes;
}

PaddedWrite split_padded_write(std::span<const std::int64_t> sizes,
                               std::span<const std::uint8_t> payload) {
    struct Count {
        std::size_t bytes = 0;
        std::size_t writes = 0;
        void payload(std::span<const std::uint8_t> piece) { bytes += piece.size(); }
        void waste(std::size_t length) { bytes += frame_header_size + length; }
        void end_write() { ++writes; }
    } count;
    walk(sizes, payload, count);

    struct Write {
        PaddedWrite& out;
        void payload(std::span<const std::uint8_t> piece) {
            out.bytes.insert(out.bytes.end(), piece.begin(), piece.end());
        }
        void waste(std::size_t length) {
            append_frame_header(out.bytes, Command::waste, control_stream_id,
                                static_cast<std::uint16_t>(length));
            out.bytes.insert(out.bytes.end(), length, std::uint8_t{0});
        }
        void end_write() { out.write_ends.push_back(out.bytes.size()); }
    };
    PaddedWrite out;
    out.bytes.reserve(count.bytes);
    out.write_ends.reserve(count.writes);
    Write write{out};
    walk(sizes, payload, write);
    return out;
}

PaddedWrite pad_write(const PaddingScheme& scheme, std::uint32_t k,
                      std::span<const std::uint8_t> payload, const RandomSource& random) {
    if (k >= scheme.stop()) return split_padded_write({}, payload);
    const auto sizes = scheme.generate_sizes(k, random);
    return split_padded_write(sizes, payload);
}

std::optional<PaddedWrite> WritePadder::next(const PaddingScheme& scheme,
                                             std::span<const std::uint8_t> payload,
                                             const RandomSource& random) {
    if (over_) return std::nullopt;
    // writeConn: pkt := pktCounter.Add(1); if pkt < Stop { pad } else { sendPadding = false }.
    ++counter_;
    if (counter_ >= scheme.stop()) {
        over_ = true;
        return std::nullopt;
    }
    return pad_write(scheme, counter_, payload, random);
}

}  // namespace anytls::proto
