// Client write padding: how the bytes of one connection write are cut into several TLS writes
// and padded with Waste frames, reproducing the reference client byte for byte (anytls-go /
// sing-anytls proxy/session/session.go writeConn; docs/DESIGN.md, "Padding scheme").
//
// Writes are numbered from 1 on each connection (the auth preamble is not counted; the first
// write carries Settings + SYN + PSH(target address)). For write k < stop, the sizes of scheme
// line k are drawn and walked in order with the not-yet-sent payload b:
//   - check mark:            stop here if b is empty, else go on to the next size;
//   - size l < len(b):       send b's first l bytes as one write (cut at ANY byte, even inside
//                            a frame: the peer decodes a byte stream);
//   - size l >= len(b) > 0:  send the rest of b, followed in the SAME write by a Waste frame
//                            with l - len(b) - 7 zero bytes if that is > 0 (so the write is l
//                            bytes; when the gap is 1..7 bytes no Waste frame fits and the write
//                            is just the rest of b);
//   - b empty:               send a Waste frame with l zero bytes (a write of l + 7 bytes).
// Whatever payload is left after the last size goes out as one more write. A write with no
// scheme line goes out whole. From the first write numbered >= stop, padding is off for good,
// even if a new scheme with a larger stop arrives later (writeConn clears sendPadding).
//
// One deliberate difference: Go writes the Waste length as uint16(n) and so corrupts the
// stream when a scheme asks for more than 65535 padding bytes in one piece; here such a Waste
// frame is capped at 65535 data bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "proto/padding_scheme.hpp"
#include "proto/random_source.hpp"

namespace anytls::proto {

// The TLS writes one connection write becomes: all bytes in order, and where each write ends.
struct PaddedWrite {
    std::vector<std::uint8_t> bytes;
    std::vector<std::size_t> write_ends;  // increasing; the last equals bytes.size()

    std::size_t write_count() const { return write_ends.size(); }
    // The bytes of write i (0-based), each to be passed to its own TLS write.
    std::span<const std::uint8_t> write(std::size_t i) const;
    // Sizes of the writes, for logs and tests.
    std::vector<std::size_t> write_sizes() const;
};

// Splits `payload` along `sizes` (a generated size list; padding_check_mark for check marks)
// as described in the header comment.
PaddedWrite split_padded_write(std::span<const std::int64_t> sizes,
                               std::span<const std::uint8_t> payload);

// Draws the sizes of scheme line k and splits `payload` along them. For k >= stop or a
// missing line this is one write holding the payload (none if it is empty).
PaddedWrite pad_write(const PaddingScheme& scheme, std::uint32_t k,
                      std::span<const std::uint8_t> payload, const RandomSource& random);

// Per-connection state: the write counter and whether padding is still on. Owned by the
// session; the scheme is passed on each call because a server may replace it mid-session
// (UpdatePaddingScheme), and the reference reads the current one on every write.
class WritePadder {
public:
    // Plans the next connection write. nullopt means padding is over (this write is numbered
    // >= stop): send `payload` unchanged as one write, with no copy made. Otherwise the
    // returned writes go out in order as separate TLS writes.
    std::optional<PaddedWrite> next(const PaddingScheme& scheme,
                                    std::span<const std::uint8_t> payload,
                                    const RandomSource& random);

    // Writes numbered so far (the counter stops once padding is over).
    std::uint32_t writes_numbered() const { return counter_; }
    bool padding_over() const { return over_; }

private:
    std::uint32_t counter_ = 0;
    bool over_ = false;
};

}  // namespace anytls::proto
