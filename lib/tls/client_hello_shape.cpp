// The ClientHello's cipher suites, groups and key share (see client_hello_shape.hpp).
#include "tls/client_hello_shape.hpp"

#include <array>
#include <string>

#include "base/errors.hpp"

namespace anytls::tls {

namespace {

// Go crypto/tls's default list and order (measured with tools/fingerprint/clienthello.py on a
// Go 1.26 client: c02b c02f c02c c030 cca9 cca8 c009 c013 c00a c014 1301 1302 1303).
constexpr const char* kGoCipherSuites =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:"
    "TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:TLS13-CHACHA20-POLY1305-SHA256";

// Go's supported_groups (001d 0017 0018 0019) and its one key share, X25519.
std::array<int, 4> go_groups() {
    return {WOLFSSL_ECC_X25519, WOLFSSL_ECC_SECP256R1, WOLFSSL_ECC_SECP384R1,
            WOLFSSL_ECC_SECP521R1};
}

Error shape_error(const std::string& what, int rc) {
    return make_error(errc::tls_config,
                      "cannot set the ClientHello's " + what + " (" + wolfssl_error_text(rc) + ")");
}

}  // namespace

Result<void> shape_client_hello(WOLFSSL_CTX* ctx) {
    if (int rc = wolfSSL_CTX_set_cipher_list(ctx, kGoCipherSuites); rc != WOLFSSL_SUCCESS)
        return shape_error("cipher suites", rc);
    auto groups = go_groups();
    if (int rc = wolfSSL_CTX_set_groups(ctx, groups.data(), static_cast<int>(groups.size()));
        rc != WOLFSSL_SUCCESS)
        return shape_error("groups", rc);
    return {};
}

Result<void> shape_client_hello(WOLFSSL* ssl) {
    // One key share, the first group's, as Go sends (wolfSSL would otherwise pick P-256).
    if (int rc = wolfSSL_UseKeyShare(ssl, WOLFSSL_ECC_X25519); rc != WOLFSSL_SUCCESS)
        return shape_error("key share", rc);
    // Go sends an empty renegotiation_info (RFC 5746) in every hello. The build has only
    // wolfSSL's renegotiation *indication* (HAVE_SERVER_RENEGOTIATION_INFO), not
    // renegotiation itself, so this adds the extension and nothing else.
    if (int rc = wolfSSL_UseSecureRenegotiation(ssl); rc != WOLFSSL_SUCCESS)
        return shape_error("renegotiation_info", rc);
    // Go never offers encrypt_then_mac (it has no CBC-with-EtM mode).
    if (int rc = wolfSSL_AllowEncryptThenMac(ssl, 0); rc != WOLFSSL_SUCCESS)
        return shape_error("encrypt_then_mac", rc);
    return {};
}

}  // namespace anytls::tls
