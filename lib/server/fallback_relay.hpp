// The fallback relay: a connection that failed authentication is handed, with the bytes
// already read from it, to the configured fallback service, which then talks to the client
// over the same TLS connection, so a prober sees an ordinary web server (docs/DESIGN.md,
// "The server"; the reference's fallback in sing-anytls service.go).
// Reactor thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "base/host_port.hpp"
#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/task_scope.hpp"
#include "tls/tls_connection.hpp"

namespace anytls::server {

struct FallbackOptions {
    HostPort target;
    io::Duration connect_timeout = std::chrono::seconds(10);
    io::Duration write_timeout = std::chrono::seconds(30);  // each write, either way
    io::CancellationSource* cancel = nullptr;               // the server's: stop() ends the relay
    std::uint64_t* connected = nullptr;                     // counts fallbacks that connected
};

// Connects to the fallback, sends it `already_read`, then relays raw bytes both ways until
// either side ends (io::relay: the fallback -> client direction runs in `scope`). Returns when
// the client -> fallback direction has ended; on a failed connect or send, the connection is
// dropped.
io::Task<void> run_fallback(io::Reactor* reactor, io::TaskScope& scope,
                            std::unique_ptr<tls::TlsConnection> connection,
                            std::vector<std::uint8_t> already_read, FallbackOptions options);

}  // namespace anytls::server
