// wolfCrypt one-shot hashes (see digest.hpp). options.h must come first: it carries the
// configuration the library was built with, and the other headers change shape with it.
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>
#include <wolfssl/wolfcrypt/md5.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include <limits>

#include "base/errors.hpp"
#include "proto/digest.hpp"

namespace anytls::proto {

namespace {

bool fits_word32(std::size_t size) { return size <= std::numeric_limits<word32>::max(); }

}  // namespace

Result<Sha256Digest> sha256(std::span<const std::uint8_t> data) {
    if (!fits_word32(data.size()))
        return make_error(errc::invalid_argument, "sha256 input too large");
    Sha256Digest digest{};
    const int rc = wc_Sha256Hash(data.data(), static_cast<word32>(data.size()), digest.data());
    if (rc != 0)
        return make_error(errc::invalid_argument, "wc_Sha256Hash failed: " + std::to_string(rc));
    return digest;
}

Result<Sha256Digest> sha256(std::string_view text) {
    return sha256(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

Result<Md5Digest> md5(std::string_view text) {
    if (!fits_word32(text.size())) return make_error(errc::invalid_argument, "md5 input too large");
    Md5Digest digest{};
    const int rc = wc_Md5Hash(reinterpret_cast<const byte*>(text.data()),
                              static_cast<word32>(text.size()), digest.data());
    if (rc != 0)
        return make_error(errc::invalid_argument, "wc_Md5Hash failed: " + std::to_string(rc));
    return digest;
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const std::uint8_t b : bytes) {
        out.push_back(digits[b >> 4]);
        out.push_back(digits[b & 0x0f]);
    }
    return out;
}

}  // namespace anytls::proto
