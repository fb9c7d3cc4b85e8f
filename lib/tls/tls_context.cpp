// TlsContext (see tls_context.hpp).
#include "tls/tls_context.hpp"

#include <mutex>

#include "base/errors.hpp"
#include "tls/wolfssl.hpp"

namespace anytls::tls {

void ensure_wolfssl_initialized() {
    static std::once_flag once;
    std::call_once(once, [] { wolfSSL_Init(); });
}

namespace {

std::string wolfssl_error_text(int code) {
    char buf[WOLFSSL_MAX_ERROR_SZ] = {};
    wolfSSL_ERR_error_string_n(static_cast<unsigned long>(code < 0 ? -code : code), buf, sizeof(buf));
    return buf;
}

Error config_error(const std::string& what, int rc) {
    return make_error(errc::tls_config, what + " (" + wolfssl_error_text(rc) + ")");
}

}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::make_client(const ClientContextOptions& options) {
    ensure_wolfssl_initialized();
    WOLFSSL_CTX* ctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    if (!ctx) return make_error(errc::tls_config, "wolfSSL_CTX_new failed");
    std::shared_ptr<TlsContext> result(new TlsContext(ctx, false, !options.skip_verify));
    // TLS 1.3 preferred, 1.2 allowed; nothing older.
    wolfSSL_CTX_SetMinVersion(ctx, WOLFSSL_TLSV1_2);
    if (options.skip_verify) {
        wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, nullptr);
        return result;
    }
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_PEER, nullptr);
    bool loaded = false;
    if (!options.ca_file.empty()) {
        int rc = wolfSSL_CTX_load_verify_locations(ctx, options.ca_file.c_str(), nullptr);
        if (rc != WOLFSSL_SUCCESS) return config_error("cannot load CA file '" + options.ca_file + "'", rc);
        loaded = true;
    }
    if (!options.ca_pem.empty()) {
        int rc = wolfSSL_CTX_load_verify_buffer(ctx, reinterpret_cast<const unsigned char*>(options.ca_pem.data()),
                                                static_cast<long>(options.ca_pem.size()), WOLFSSL_FILETYPE_PEM);
        if (rc != WOLFSSL_SUCCESS) return config_error("cannot load CA certificate", rc);
        loaded = true;
    }
    if (!loaded) {
#ifdef WOLFSSL_SYS_CA_CERTS
        int rc = wolfSSL_CTX_load_system_CA_certs(ctx);
        if (rc != WOLFSSL_SUCCESS) return config_error("cannot load the system CA certificates", rc);
#else
        int rc = wolfSSL_CTX_load_verify_locations(ctx, "/etc/ssl/certs/ca-certificates.crt", nullptr);
        if (rc != WOLFSSL_SUCCESS) return config_error("cannot load /etc/ssl/certs/ca-certificates.crt", rc);
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
    int rc;
    if (!options.certificate_pem.empty()) {
        rc = wolfSSL_CTX_use_certificate_chain_buffer(
            ctx, reinterpret_cast<const unsigned char*>(options.certificate_pem.data()),
            static_cast<long>(options.certificate_pem.size()));
        if (rc != WOLFSSL_SUCCESS) return config_error("cannot use the server certificate", rc);
    } else {
        rc = wolfSSL_CTX_use_certificate_chain_file(ctx, options.certificate_file.c_str());
        if (rc != WOLFSSL_SUCCESS) return config_error("cannot load certificate '" + options.certificate_file + "'", rc);
    }
    if (!options.private_key_pem.empty()) {
        rc = wolfSSL_CTX_use_PrivateKey_buffer(ctx, reinterpret_cast<const unsigned char*>(options.private_key_pem.data()),
                                               static_cast<long>(options.private_key_pem.size()), WOLFSSL_FILETYPE_PEM);
        if (rc != WOLFSSL_SUCCESS) return config_error("cannot use the server private key", rc);
    } else {
        rc = wolfSSL_CTX_use_PrivateKey_file(ctx, options.private_key_file.c_str(), WOLFSSL_FILETYPE_PEM);
        if (rc != WOLFSSL_SUCCESS) return config_error("cannot load private key '" + options.private_key_file + "'", rc);
    }
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
