// TlsContext: a configured wolfSSL context (WOLFSSL_CTX) for the client or the server side.
//
// One context serves many connections. The client side verifies the server's certificate by
// default, against the system CA bundle or a given CA file; skip_verify must be asked for.
// Connections use memory-only I/O callbacks (see tls_connection.hpp), so the context never
// touches a socket.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"

struct WOLFSSL_CTX;

namespace anytls::tls {

struct ClientContextOptions {
    bool skip_verify = false;  // accept any certificate (explicit opt-in)
    std::string ca_file;       // PEM bundle; empty: the system CA store
    std::string ca_pem;        // PEM text, in addition to / instead of ca_file
    // 64 hex digits: the SHA-256 the server's leaf certificate must have. It replaces CA
    // verification (no CA is loaded, skip_verify or not), as mihomo's `fingerprint` does.
    std::string pinned_sha256;
};

struct ServerContextOptions {
    std::string certificate_file;  // PEM chain
    std::string private_key_file;  // PEM key
    std::string certificate_pem;   // alternatively, PEM text
    std::string private_key_pem;
};

class TlsContext {
public:
    static Result<std::shared_ptr<TlsContext>> make_client(const ClientContextOptions& options);
    static Result<std::shared_ptr<TlsContext>> make_server(const ServerContextOptions& options);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    WOLFSSL_CTX* native() const { return ctx_; }
    bool is_server() const { return server_; }
    bool verifies_peer() const { return verify_; }
    // The SHA-256 the peer's leaf certificate must have (ClientContextOptions::pinned_sha256).
    const std::optional<std::array<std::uint8_t, 32>>& pinned_sha256() const { return pin_; }

private:
    TlsContext(WOLFSSL_CTX* ctx, bool server, bool verify)
        : ctx_(ctx), server_(server), verify_(verify) {}
    WOLFSSL_CTX* ctx_;
    bool server_;
    bool verify_;
    std::optional<std::array<std::uint8_t, 32>> pin_;
};

// The wolfSSL library version string and whether it was built with the x86-64 assembly.
std::string wolfssl_version();
bool wolfssl_has_intel_asm();

}  // namespace anytls::tls
