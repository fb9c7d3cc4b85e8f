// The shape of the ClientHello this library sends (docs/FINGERPRINT.md): as close to Go
// crypto/tls's as wolfSSL's configuration allows, because Go's is what the reference client
// and mihomo and sing-box without a uTLS fingerprint send, so it is the crowd an AnyTLS client
// should look like.
//
// Configured here: Go's cipher suites in Go's order (its TLS 1.2 ECDHE suites first, then the
// three TLS 1.3 suites), Go's groups in Go's order (X25519, P-256, P-384, P-521) with one X25519
// key share, and no encrypt_then_mac. What stays wolfSSL's own is listed, with the reasons, in
// docs/FINGERPRINT.md.
#pragma once

#include "base/result.hpp"
#include "tls/wolfssl.hpp"

namespace anytls::tls {

// On a client context, once.
Result<void> shape_client_hello(WOLFSSL_CTX* ctx);
// On each client connection before its handshake (what wolfSSL sets per connection only).
Result<void> shape_client_hello(WOLFSSL* ssl);

}  // namespace anytls::tls
