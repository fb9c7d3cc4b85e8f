// Digests the protocol needs, through wolfCrypt: sha256 of the password (the auth preamble,
// docs/DESIGN.md, "Authentication") and md5 of the raw padding scheme (Settings' `padding-md5`),
// plus the lower-case hex the references print with fmt.Sprintf("%x", ...).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace anytls::proto {

inline constexpr std::size_t sha256_size = 32;
inline constexpr std::size_t md5_size = 16;

using Sha256Digest = std::array<std::uint8_t, sha256_size>;
using Md5Digest = std::array<std::uint8_t, md5_size>;

// Fail only if wolfCrypt does (errc::invalid_argument for inputs over 4 GiB).
Result<Sha256Digest> sha256(std::span<const std::uint8_t> data);
Result<Sha256Digest> sha256(std::string_view text);
Result<Md5Digest> md5(std::string_view text);

// Lower-case hex, two digits per byte.
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace anytls::proto
