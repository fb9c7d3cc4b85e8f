// PEM files and text for the TLS contexts (see pem_files.hpp).
#include "tls/pem_files.hpp"

#include <memory>

#include "base/errors.hpp"
#include "base/read_file.hpp"
#include "tls/wolfssl.hpp"

namespace anytls::tls {

namespace {

std::string_view content_name(PemContent content) {
    switch (content) {
        case PemContent::ca_bundle:
            return "CA certificate";
        case PemContent::certificate_chain:
            return "certificate chain";
        case PemContent::private_key:
            return "private key";
    }
    return "PEM content";
}

struct ContextFree {
    void operator()(WOLFSSL_CTX* ctx) const { wolfSSL_CTX_free(ctx); }
};

Result<void> check_file(PemContent content, const std::string& path) {
    ensure_wolfssl_initialized();
    const bool client = content == PemContent::ca_bundle;
    std::unique_ptr<WOLFSSL_CTX, ContextFree> ctx(
        wolfSSL_CTX_new(client ? wolfSSLv23_client_method() : wolfSSLv23_server_method()));
    if (!ctx) return make_error(errc::tls_config, "wolfSSL_CTX_new failed");
    return load_pem_file(ctx.get(), content, path);
}

}  // namespace

Result<void> load_pem(WOLFSSL_CTX* ctx, PemContent content, std::string_view pem,
                      std::string_view origin) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(pem.data());
    const auto size = static_cast<long>(pem.size());
    int rc = WOLFSSL_FAILURE;
    switch (content) {
        case PemContent::ca_bundle:
            rc = wolfSSL_CTX_load_verify_buffer(ctx, bytes, size, WOLFSSL_FILETYPE_PEM);
            break;
        case PemContent::certificate_chain:
            rc = wolfSSL_CTX_use_certificate_chain_buffer(ctx, bytes, size);
            break;
        case PemContent::private_key:
            rc = wolfSSL_CTX_use_PrivateKey_buffer(ctx, bytes, size, WOLFSSL_FILETYPE_PEM);
            break;
    }
    if (rc == WOLFSSL_SUCCESS) return {};
    // Empty text never reaches wolfSSL's parser, whose error would then be a bare "bad argument".
    const std::string why = pem.empty() ? std::string("it is empty") : wolfssl_error_text(rc);
    return make_error(errc::tls_config, std::string(origin) + " holds no valid PEM " +
                                            std::string(content_name(content)) + " (" + why + ")");
}

Result<void> load_pem_file(WOLFSSL_CTX* ctx, PemContent content, const std::string& path) {
    auto text = read_file(path, kMaxPemFileBytes + 1);
    if (!text) return make_error(errc::tls_config, text.error().text());
    if (text->size() > kMaxPemFileBytes)
        return make_error(errc::tls_config, "\"" + path + "\" is larger than " +
                                                std::to_string(kMaxPemFileBytes / (1024 * 1024)) +
                                                " MiB: not a PEM " +
                                                std::string(content_name(content)) + " file");
    return load_pem(ctx, content, *text, "\"" + path + "\"");
}

Result<void> check_ca_file(const std::string& path) {
    return check_file(PemContent::ca_bundle, path);
}
Result<void> check_certificate_file(const std::string& path) {
    return check_file(PemContent::certificate_chain, path);
}
Result<void> check_private_key_file(const std::string& path) {
    return check_file(PemContent::private_key, path);
}

}  // namespace anytls::tls
