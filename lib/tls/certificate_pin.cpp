// The leaf certificate's SHA-256 against the pin (see certificate_pin.hpp).
#include "tls/certificate_pin.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <string>

#include "base/errors.hpp"

#include <wolfssl/wolfcrypt/sha256.h>

namespace anytls::tls {

namespace {

// "AB:CD:EF:01…": enough to tell two fingerprints apart in a message.
std::string first_bytes(const std::uint8_t* bytes) {
    return fmt::format("{:02X}:{:02X}:{:02X}:{:02X}…", bytes[0], bytes[1], bytes[2], bytes[3]);
}

}  // namespace

Result<void> check_pinned_certificate(WOLFSSL* ssl, const std::array<std::uint8_t, 32>& pinned) {
    // The leaf the server sent, kept by wolfSSL's KEEP_PEER_CERT (the build recipe defines it;
    // docs/DESIGN.md, "Dependencies and the wolfSSL build"); the call returns a copy.
    std::unique_ptr<WOLFSSL_X509, decltype(&wolfSSL_X509_free)> leaf(
        wolfSSL_get_peer_certificate(ssl), &wolfSSL_X509_free);
    if (!leaf)
        return make_error(errc::tls_unknown_ca,
                          "TLS: the server sent no certificate to check against the pinned "
                          "fingerprint");
    int length = 0;
    const unsigned char* der = wolfSSL_X509_get_der(leaf.get(), &length);
    std::array<std::uint8_t, WC_SHA256_DIGEST_SIZE> digest{};
    if (der == nullptr || length <= 0 ||
        wc_Sha256Hash(der, static_cast<word32>(length), digest.data()) != 0)
        return make_error(errc::tls_unknown_ca, "TLS: cannot hash the server certificate");
    if (std::equal(digest.begin(), digest.end(), pinned.begin())) return {};
    return make_error(errc::tls_unknown_ca,
                      fmt::format("TLS: the server certificate's SHA-256 is {}, not the pinned "
                                  "fingerprint {}",
                                  first_bytes(digest.data()), first_bytes(pinned.data())));
}

}  // namespace anytls::tls
