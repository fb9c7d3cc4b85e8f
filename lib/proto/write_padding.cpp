// Client write padding (see write_padding.hpp): a transcription of writeConn's loop that
// records writes instead of issuing them.
#include "proto/write_padding.hpp"

#include <algorithm>

#include "proto/frame.hpp"

namespace anytls::proto {

namespace {

// A Waste frame with `size` zero data bytes (capped at 65535, see the header comment).
void append_waste(PaddedWrite& out, std::int64_t size) {
    const auto length = static_cast<std::size_t>(std::min<std::int64_t>(size, max_frame_data));
    append_frame_header(out.bytes, Command::waste, control_stream_id,
                        static_cast<std::uint16_t>(length));
    out.bytes.insert(out.bytes.end(), length, std::uint8_t{0});
}

void end_write(PaddedWrite& out) { out.write_ends.push_back(out.bytes.size()); }

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
    PaddedWrite out;
    out.bytes.reserve(payload.size() + frame_header_size);
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
            out.bytes.insert(out.bytes.end(), payload.begin(),
                             payload.begin() + static_cast<std::ptrdiff_t>(piece));
            payload = payload.subspan(static_cast<std::size_t>(piece));
            end_write(out);
        } else if (remaining > 0) {
            // The last of the payload, then padding up to `size` bytes if a Waste frame fits.
            out.bytes.insert(out.bytes.end(), payload.begin(), payload.end());
            payload = {};
            const std::int64_t padding = size - static_cast<std::int64_t>(remaining) -
                                         static_cast<std::int64_t>(frame_header_size);
            if (padding > 0) append_waste(out, padding);
            end_write(out);
        } else {
            // Nothing left: this write is all padding, a Waste frame of `size` data bytes.
            append_waste(out, size);
            end_write(out);
        }
    }
    if (!payload.empty()) {
        out.bytes.insert(out.bytes.end(), payload.begin(), payload.end());
        end_write(out);
    }
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
