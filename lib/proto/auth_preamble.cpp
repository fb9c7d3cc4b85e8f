// Auth preamble (see auth_preamble.hpp): building, parsing, and hash comparison.
#include "proto/auth_preamble.hpp"

#include <algorithm>

#include "base/errors.hpp"

namespace anytls::proto {

Result<PasswordHash> hash_password(std::string_view password) { return sha256(password); }

void append_auth_preamble(std::vector<std::uint8_t>& out, const PasswordHash& hash,
                          std::uint16_t padding_length) {
    out.reserve(out.size() + auth_preamble_fixed_size + padding_length);
    out.insert(out.end(), hash.begin(), hash.end());
    out.push_back(static_cast<std::uint8_t>(padding_length >> 8));
    out.push_back(static_cast<std::uint8_t>(padding_length));
    out.insert(out.end(), padding_length, std::uint8_t{0});
}

std::vector<std::uint8_t> build_auth_preamble(const PasswordHash& hash,
                                              std::uint16_t padding_length) {
    std::vector<std::uint8_t> out;
    append_auth_preamble(out, hash, padding_length);
    return out;
}

namespace {

// 1 when equal, 0 otherwise; touches every byte. The volatile accumulator keeps the compiler
// from turning the loop into an early-exit comparison.
std::uint8_t equal_mask(const PasswordHash& a, const PasswordHash& b) {
    volatile std::uint8_t diff = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        diff = static_cast<std::uint8_t>(diff | (a[i] ^ b[i]));
    // diff == 0 -> 1, else 0, without a branch: (diff - 1) has bit 8 set only when diff == 0.
    return static_cast<std::uint8_t>(((static_cast<unsigned>(diff) - 1u) >> 8) & 1u);
}

}  // namespace

bool password_hashes_equal(const PasswordHash& a, const PasswordHash& b) {
    return equal_mask(a, b) == 1;
}

std::optional<std::size_t> find_password_hash(const PasswordHash& presented,
                                              std::span<const PasswordHash> known) {
    std::size_t index = 0;
    std::uint8_t found = 0;
    for (std::size_t i = 0; i < known.size(); ++i) {
        const std::uint8_t take =
            equal_mask(presented, known[i]) & static_cast<std::uint8_t>(found ^ 1u);
        // All ones when this entry is the first match, zero otherwise.
        const std::size_t mask = std::size_t{0} - std::size_t{take};
        index = (index & ~mask) | (i & mask);
        found = static_cast<std::uint8_t>(found | take);
    }
    if (!found) return std::nullopt;
    return index;
}

Error AuthPreambleParser::padding_too_long() const {
    return make_error(errc::protocol,
                      "auth preamble padding of " + std::to_string(padding_length_) +
                          " bytes exceeds the limit of " + std::to_string(max_padding_));
}

Result<AuthPreambleParser::Progress> AuthPreambleParser::feed(std::span<const std::uint8_t> input) {
    const auto take = [&](std::size_t wanted) {
        const std::size_t n = std::min(wanted, input.size());
        consumed_ += n;
        return n;
    };

    if (stage_ == Stage::hash) {
        const std::size_t n = take(hash_.size() - hash_size_);
        std::copy_n(input.begin(), n, hash_.begin() + static_cast<std::ptrdiff_t>(hash_size_));
        hash_size_ += n;
        input = input.subspan(n);
        if (hash_size_ < hash_.size()) return Progress{};
        stage_ = Stage::length;
    }
    if (stage_ == Stage::length) {
        const std::size_t n = take(2 - length_size_);
        std::copy_n(input.begin(), n, length_bytes_ + length_size_);
        length_size_ += n;
        input = input.subspan(n);
        if (length_size_ < 2) return Progress{};
        padding_length_ = static_cast<std::uint16_t>((length_bytes_[0] << 8) | length_bytes_[1]);
        if (padding_length_ > max_padding_) {
            stage_ = Stage::failed;
            return padding_too_long();
        }
        padding_left_ = padding_length_;
        stage_ = Stage::padding;
    }
    if (stage_ == Stage::padding) {
        const std::size_t n = take(padding_left_);
        padding_left_ -= n;
        input = input.subspan(n);
        if (padding_left_ > 0) return Progress{};
        stage_ = Stage::done;
    }
    if (stage_ == Stage::failed) return padding_too_long();
    return Progress{Status::done, input};
}

}  // namespace anytls::proto
