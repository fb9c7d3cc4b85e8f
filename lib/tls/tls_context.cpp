// TlsContext (see tls_context.hpp).
#include "tls/tls_context.hpp"

#include <mutex>

#include "base/errors.hpp"
#include "tls/client_hello_shape.hpp"
#include "tls/pem_files.hpp"
#include "tls/wolfssl.hpp"

namespace anytls::tls {

void ensure_wolfssl_initialized() {
    static std::once_flag once;
    std::call_once(once, [] { wolfSSL_Init(); });
}

std::string wolfssl_error_text(int code) {
    // The API's own "bad file" code has no entry in wolfSSL's table: a PEM block of another
    // kind (a certificate given as the key) or one whose body does not parse.
    if (code == WOLFSSL_BAD_FILE) return "malformed, or PEM of another kind";
    char buf[WOLFSSL_MAX_ERROR_SZ] = {};
    // The table is keyed by the negative codes the functions return.
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code > 0 ? -code : code), buf,
                               sizeof(buf));
    return buf;
}

namespace {

std::optional<std::array<std::uint8_t, 32>> decode_sha256_hex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    std::array<std::uint8_t, 32> bytes{};
    auto digit = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        const int high = digit(hex[2 * i]), low = digit(hex[2 * i + 1]);
        if (high < 0 || low < 0) return std::nullopt;
        bytes[i] = static_cast<std::uint8_t>(high * 16 + low);
    }
    return bytes;
}

Error config_error(const std::string& what, int rc) {
    return make_error(errc::tls_config, what + " (" + wolfssl_error_text(rc) + ")");
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::make_client(const ClientContextOptions& options) {
    ensure_wolfssl_initialized();
    std::optional<std::array<std::uint8_t, 32>> pin;
    if (!options.pinned_sha256.empty()) {
        pin = decode_sha256_hex(options.pinned_sha256);
        if (!pin)
            return make_error(errc::tls_config,
                              "the pinned certificate fingerprint is not 64 hex digits");
    }
    WOLFSSL_CTX* ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    if (!ctx) return make_error(errc::tls_config, "wolfSSL_CTX_new failed");
    // A pin replaces the CA check: TlsConnection::connect compares the leaf's hash instead.
    const bool verify = !options.skip_verify && !pin;
    std::shared_ptr<TlsContext> result(new TlsContext(ctx, false, verify));
    result->pin_ = pin;
    // TLS 1.3 preferred, 1.2 allowed; nothing older.
    wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
    if (auto shaped = shape_client_hello(ctx); !shaped) return std::move(shaped).error();
    if (!verify) {
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
        return result;
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, nullptr);
    bool loaded = false;
    if (!options.ca_file.empty()) {
        if (auto ca = load_pem_file(ctx, PemContent::ca_bundle, options.ca_file); !ca)
            return std::move(ca).error();
        loaded = true;
    }
    if (!options.ca_pem.empty()) {
        if (auto ca =
                load_pem(ctx, PemContent::ca_bundle, options.ca_pem, "the CA certificate text");
            !ca)
            return std::move(ca).error();
        loaded = true;
    }
    if (!loaded) {
#ifdef WOLFSSL_SYS_CA_CERTS
        int rc = wolfSSL_CTX_load_system_CA_certs(ctx);
        if (rc != WOLFSSL_SUCCESS)
            return config_error("cannot load the system CA certificates", rc);
#else
        int rc =
            wolfSSL_CTX_load_verify_locations(ctx, "/etc/ssl/certs/ca-certificates.crt", nullptr);
        if (rc != WOLFSSL_SUCCESS)
            return config_error("cannot load /etc/ssl/certs/ca-certificates.crt", rc);
#endif
    }
    return result;
}

Result<std::shared_ptr<TlsContext>> TlsContext::make_server(const ServerContextOptions& options) {
    ensure_wolfssl_initialized();
    WOLFSSL_CTX* ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    if (!ctx) return make_error(errc::tls_config, "wolfSSL_CTX_new failed");
    std::shared_ptr<TlsContext> result(new TlsContext(ctx, true, false));
    wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
    auto chain = options.certificate_pem.empty()
                     ? load_pem_file(ctx, PemContent::certificate_chain, options.certificate_file)
                     : load_pem(ctx, PemContent::certificate_chain, options.certificate_pem,
                                "the certificate text");
    if (!chain) return std::move(chain).error();
    auto key = options.private_key_pem.empty()
                   ? load_pem_file(ctx, PemContent::private_key, options.private_key_file)
                   : load_pem(ctx, PemContent::private_key, options.private_key_pem,
                              "the private key text");
    if (!key) return std::move(key).error();
    if (wolfSSL_CTX_check_private_key(ctx) != WOLFSSL_SUCCESS) {
        return make_error(errc::tls_config, "the private key does not match the certificate");
    }
    return result;
}

TlsContext::~TlsContext() { wolfSSL_CTX_free(ctx_); }

std::string wolfssl_version() { return wolfSSL_lib_version(); }

bool wolfssl_has_intel_asm() {
#ifdef USE_INTEL_SPEEDUP
    return true;
#else
    return false;
#endif
}

}  // namespace anytls::tls
