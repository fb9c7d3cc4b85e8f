// Certificate pinning (docs/CONFIG.md, "Certificate pinning"): after a client handshake whose
// context pins a SHA-256, the server's leaf certificate must hash to it. As mihomo's
// `fingerprint`, it stands instead of CA verification.
#pragma once

#include <array>
#include <cstdint>

#include "base/result.hpp"
#include "tls/wolfssl.hpp"

namespace anytls::tls {

// errc::tls_unknown_ca on a mismatch, naming the first bytes of both hashes.
Result<void> check_pinned_certificate(WOLFSSL* ssl, const std::array<std::uint8_t, 32>& pinned);

}  // namespace anytls::tls
