// ServerConfig: what an AnyTLS server listens on, whom it admits, and its limits (docs/SERVER.md).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "io/clock.hpp"
#include "proto/padding_scheme.hpp"
#include "proto/socks_address.hpp"
#include "io/stream_buffer.hpp"

namespace anytls::server {

struct ServerUser {
    std::string name;      // for logs
    std::string password;  // never logged; only its sha256 is kept after create()
};

// When the v2 SYNACK goes out: after the target connected (its error text on failure), or at
// once before dialing (the reference's "synack = immediate"-style servers; a dial failure then
// only ends the stream with FIN).
enum class SynAckMode { after_connect, immediate };

struct ServerConfig {
    std::string listen = "0.0.0.0:443";  // numeric host:port; port 0 picks one (tests)
    std::string certificate_file;        // PEM chain
    std::string private_key_file;
    std::string certificate_pem;  // alternatively PEM text
    std::string private_key_pem;
    std::vector<std::string> alpn;
    std::vector<ServerUser> users;
    // The scheme pushed to clients whose Settings carry another md5 (raw text, sent as is).
    std::string padding_scheme = std::string(proto::default_padding_scheme_text);

    // Reactor threads of a ServerGroup (server_group.hpp); 0: default_server_threads(). A
    // single Server runs on the one reactor it is given and ignores this.
    unsigned threads = 0;
    // Numeric host:port where the embedding program serves the group's Prometheus text
    // (inbound::ServerMetricsEndpoint); empty: none. The Server itself ignores it.
    std::string metrics;
    std::size_t max_sessions = 4096;  // connections at once (incl. handshaking), all threads
    std::size_t max_streams_per_session = 256;  // a SYN beyond this is answered with FIN
    std::size_t stream_buffer_limit = io::default_stream_buffer_limit;

    io::Duration handshake_timeout = std::chrono::seconds(10);  // TLS handshake
    io::Duration auth_timeout = std::chrono::seconds(10);       // preamble complete
    io::Duration connect_timeout = std::chrono::seconds(10);    // address PSH + target dial
    io::Duration write_timeout = std::chrono::seconds(30);      // per TLS / target send

    SynAckMode synack = SynAckMode::after_connect;
    // Which stream targets the server may dial; null: any. A refused target is answered like
    // a failed dial (SYNACK with the reason to v2 clients, then FIN). The session fuzzer
    // (tools/fuzz/session_fuzz.cpp) keeps fuzzed addresses on its loopback targets with it.
    std::function<bool(const proto::SocksAddress&)> allow_target;
    // "host:port" of a service that receives connections failing authentication (the bytes
    // already read are replayed to it, then the TLS connection is relayed). Empty: close.
    std::string fallback;
};

}  // namespace anytls::server
