// TlsRecordScanner: follows the TLS record boundaries of one direction of a connection (the
// 5-byte record header is plain text even when the body is encrypted) so that the flight
// relay can tell when a peer *starts a new record*, which is how it knows that the peer has
// spoken again rather than finished sending a record it had begun.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace anytls::test {

class TlsRecordScanner {
public:
    static constexpr std::uint8_t change_cipher_spec = 20;

    struct Scan {
        std::size_t records_started = 0;
        // A record of another type than ChangeCipherSpec began. TLS 1.3 sends CCS only for
        // middlebox compatibility; it is never an answer the peer needed something for.
        bool meaningful_record_started = false;
    };

    Scan feed(std::span<const std::byte> bytes) {
        Scan scan;
        std::size_t i = 0;
        while (i < bytes.size()) {
            if (body_left_ > 0) {  // skip the body in one step: only headers matter
                const std::size_t skip =
                    body_left_ < bytes.size() - i ? body_left_ : bytes.size() - i;
                body_left_ -= skip;
                i += skip;
                continue;
            }
            const auto value = static_cast<std::uint8_t>(bytes[i++]);
            if (header_seen_ == 0) {
                ++scan.records_started;
                ++records_;
                if (value != change_cipher_spec) scan.meaningful_record_started = true;
            }
            header_[header_seen_++] = value;
            if (header_seen_ == sizeof header_) {
                body_left_ = (std::size_t{header_[3]} << 8) | header_[4];
                header_seen_ = 0;
            }
        }
        return scan;
    }

    std::size_t records() const { return records_; }

private:
    std::uint8_t header_[5] = {};
    std::size_t header_seen_ = 0;
    std::size_t body_left_ = 0;
    std::size_t records_ = 0;
};

}  // namespace anytls::test
