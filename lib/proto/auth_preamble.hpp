// The auth preamble: the client's first TLS write on a new connection (docs/DESIGN.md,
// "Authentication").
//
//     sha256(password) (32 bytes) | padding length (u16, big-endian) | padding (zero bytes)
//
// The padding length is the first size of padding-scheme line `0=` (30 by default), drawn
// once per connection (mihomo transport/anytls/client.go CreateOutboundTLSConnection:
// GenerateRecordPayloadSizes(0)[0]). Everything after the padding is the frame stream.
//
// The reference servers read the preamble with ONE read into a sing buf.NewPacket() buffer
// (16 KiB minus a 1 KiB reserved head = 15360 bytes free) and fall back if any part is
// missing from it (anytls-go cmd/server/inbound_tcp.go handleTcpConnection). So a preamble is
// accepted there only if it arrived whole in the first read, which also bounds the padding at
// 15360 - 34 = 15326 bytes. AuthPreambleParser is more forgiving about reads — it accepts the
// bytes cut anywhere — but keeps the same bound on the padding by default. The padding bytes
// are not checked (the references skip them unread), so they need not be zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "proto/digest.hpp"

namespace anytls::proto {

using PasswordHash = Sha256Digest;

// 32 hash bytes + 2 length bytes: what the preamble costs without padding.
inline constexpr std::size_t auth_preamble_fixed_size = sha256_size + 2;
// The largest padding a reference server can accept (see the header comment).
inline constexpr std::size_t reference_max_auth_padding = 15360 - auth_preamble_fixed_size;

Result<PasswordHash> hash_password(std::string_view password);

// Appends / builds the whole preamble.
void append_auth_preamble(std::vector<std::uint8_t>& out, const PasswordHash& hash,
                          std::uint16_t padding_length);
std::vector<std::uint8_t> build_auth_preamble(const PasswordHash& hash,
                                              std::uint16_t padding_length);

// Compares two hashes in time independent of where they differ.
bool password_hashes_equal(const PasswordHash& a, const PasswordHash& b);

// The index of `presented` in `known`, comparing against every entry whatever matches, so the
// time taken does not reveal which user (if any) matched. When several entries are equal, the
// first is reported.
std::optional<std::size_t> find_password_hash(const PasswordHash& presented,
                                              std::span<const PasswordHash> known);

// Server side: parses the preamble from reads of any size.
//
//     AuthPreambleParser parser;
//     auto progress = parser.feed(chunk);
//     if (!progress) ... close or fall back (progress.error(): errc::protocol)
//     else if (progress->status == AuthPreambleParser::Status::done)
//         check parser.password_hash(); progress->rest starts the frame stream
//
// The parser copies only the 32 hash bytes; a server that falls back to another service on
// failure keeps its own copy of the bytes it read.
class AuthPreambleParser {
public:
    enum class Status { need_more, done };
    struct Progress {
        Status status = Status::need_more;
        // When done: the bytes of this feed's input after the padding (a view into it): the
        // start of the frame stream. Empty while need_more.
        std::span<const std::uint8_t> rest;
    };

    explicit AuthPreambleParser(std::size_t max_padding = reference_max_auth_padding)
        : max_padding_(max_padding) {}

    // Consumes preamble bytes from `input`. Once done, further feeds return done with all of
    // their input as `rest`. Fails with errc::protocol when the padding length exceeds the
    // cap; after a failure every feed fails the same way.
    Result<Progress> feed(std::span<const std::uint8_t> input);

    bool done() const { return stage_ == Stage::done; }
    // The hash the client presented; complete once 32 bytes have been fed.
    const PasswordHash& password_hash() const { return hash_; }
    bool has_password_hash() const { return stage_ != Stage::hash; }
    std::uint16_t padding_length() const { return padding_length_; }
    // Preamble bytes consumed so far (34 + padding once done).
    std::size_t consumed() const { return consumed_; }

private:
    enum class Stage { hash, length, padding, done, failed };

    Error padding_too_long() const;

    std::size_t max_padding_;
    Stage stage_ = Stage::hash;
    PasswordHash hash_{};
    std::size_t hash_size_ = 0;
    std::uint8_t length_bytes_[2]{};
    std::size_t length_size_ = 0;
    std::uint16_t padding_length_ = 0;
    std::size_t padding_left_ = 0;
    std::size_t consumed_ = 0;
};

}  // namespace anytls::proto
