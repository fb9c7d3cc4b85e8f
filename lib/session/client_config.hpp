// ClientConfig: what one client session needs to reach an AnyTLS server.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "io/clock.hpp"
#include "proto/auth_preamble.hpp"
#include "proto/settings.hpp"
#include "io/stream_buffer.hpp"
#include "tls/tls_context.hpp"

namespace anytls::session {

struct ClientConfig {
    std::string server_host;  // name or IP literal
    std::uint16_t server_port = 443;
    std::string password;  // never logged
    std::string sni;       // empty: server_host (no SNI for an IP literal)
    bool skip_verify = false;
    std::string ca_file;  // empty: the system CA store
    std::string ca_pem;
    // 64 lower-case hex digits: the server's leaf certificate must have this SHA-256, instead
    // of a CA verification (docs/CONFIG.md, "Certificate pinning"). Empty: none.
    std::string pinned_sha256;
    std::vector<std::string> alpn;
    std::string client_name;  // Settings' client=; empty by default (proto/settings.hpp)

    io::Duration connect_timeout = std::chrono::seconds(10);    // TCP connect (with resolution)
    io::Duration handshake_timeout = std::chrono::seconds(10);  // TLS handshake
    // How long open_stream waits for the v2 SYNACK. The reference gives it 3 s and then closes
    // the session (sing-anytls session.go OpenStream: NewDeadlineWatcher(time.Second*3, ...)),
    // but only from the second stream on; we also wait on the first (see open_stream).
    io::Duration synack_timeout = std::chrono::seconds(10);
    // Each control write (Settings, SYN, FIN, heartbeats) and the preamble; the reference
    // uses 5 s for control frames (writeControlFrame SetWriteDeadline).
    io::Duration control_write_timeout = std::chrono::seconds(5);
    std::size_t stream_buffer_limit = io::default_stream_buffer_limit;
    // TCP keepalive idle time and probe interval on the session socket; zero: off.
    io::Duration tcp_keepalive = std::chrono::seconds(15);

    // Built from the fields above by prepare_client_config, once per outbound, and shared by
    // its sessions; open_session prepares a config that was not prepared.
    std::shared_ptr<tls::TlsContext> tls_context;
    std::optional<proto::PasswordHash> password_hash;  // sha256(password); a secret too
};

// The one place that builds what every session of `config` shares: the client TLS context
// (verification on unless skip_verify) when tls_context is null, and the password's SHA-256
// when password_hash is unset. Idempotent.
Result<void> prepare_client_config(ClientConfig& config);

}  // namespace anytls::session
