// A self-signed certificate made at server start (`anytls server`, `self-signed = true`;
// docs/SERVER.md).
//
// For tests, demos and private deployments whose clients pin the certificate (a client's
// `ca-file` is the written PEM): an EC P-256 key and an X.509 v3 certificate signed with it
// (ECDSA with SHA-256), valid from one hour ago (clock skew) for 365 days, with
//   subject / issuer  CN = the first name
//   basicConstraints  CA:TRUE (critical) — wolfSSL, like most TLS stacks, refuses to load a
//                     certificate that is not a CA as a trust anchor, and a pinned self-signed
//                     certificate is exactly that anchor
//   subjectAltName    every name: DNS entries for host names, IP entries for IPv4/IPv6
//                     literals (Go clients ignore the CN since Go 1.15, so SANs are required)
//   keyUsage          digitalSignature, keyCertSign (critical)
//   subject/authorityKeyIdentifier  the leftmost 160 bits of the public key's SHA-256 (RFC
//                     7093); OpenSSL's strict mode (Python 3.13's default) wants them on CAs
// wolfSSL's certificate generation API (wc_MakeCert / wc_SignCert) encodes and signs it. The
// recipe build of wolfSSL has no WOLFSSL_ALT_NAMES / WOLFSSL_CERT_EXT, so the extensions are
// encoded here and added to the to-be-signed certificate before wolfSSL signs it.
//
// Pure apart from the system clock and wolfSSL's RNG; any thread.
#pragma once

#include <string>
#include <vector>

#include "base/result.hpp"

namespace anytls::tls {

struct SelfSignedCertificate {
    std::string certificate_pem;     // "-----BEGIN CERTIFICATE-----"
    std::string private_key_pem;     // "-----BEGIN EC PRIVATE KEY-----" (SEC 1); a secret
    std::string sha256_fingerprint;  // of the DER certificate: "AB:CD:...", 32 bytes
};

// `names`: host names ("localhost", "*.example.com") and IP literals ("127.0.0.1", "::1"),
// at least one; the first also becomes the CN (cut to 64 bytes). Errors (errc::invalid_argument
// for a bad name, errc::tls_config when wolfSSL fails) say which step failed.
Result<SelfSignedCertificate> generate_self_signed(const std::vector<std::string>& names);

}  // namespace anytls::tls
