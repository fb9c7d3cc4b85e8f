// Server: the AnyTLS inbound (docs/DESIGN.md, "The server"; docs/SERVER.md).
//
// For each accepted TCP connection: TLS handshake (timeout), the auth preamble parsed
// incrementally (timeout) and compared in constant time against every user's sha256; on
// failure the connection is closed or relayed to `fallback`. Then frames: Settings must come
// before the first SYN (else Alert and close, as sing-anytls session.go recvLoop); Settings
// is answered with UpdatePaddingScheme when the client's padding-md5 differs and ServerSettings
// v=2 when the client's v >= 2. Each SYN opens a stream whose first PSH carries the target
// address; the server dials it, answers SYNACK (v2 clients only), relays both ways, sends FIN
// when the target ends and closes the target when the client sends FIN. HeartRequest is
// answered with HeartResponse on the same stream id. The server never pads its writes (the
// reference's writeConn pads only client sessions).
//
// A stream whose target is sp.v2.udp-over-tcp.arpa (UDP-over-TCP v2) is answered with SYNACK
// at once and handed to the UDP relay (udp_relay.hpp).
//
// Lifetime: every coroutine of the server runs in its task scope and holds the server's
// internal state by shared_ptr. `co_await shutdown()` cancels them and resumes once they have
// all ended (docs/DESIGN.md, "Shutdown"); a Server destroyed after a bare stop() leaves them to
// unwind on the reactor. Reactor thread only.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "base/result.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/tcp.hpp"
#include "server/server_config.hpp"
#include "server/server_stats.hpp"

namespace anytls::tls {
class TlsConnection;
}

namespace anytls::server {

// The connections open at once over every Server that shares it (the threads of one
// ServerGroup): max-sessions bounds their sum. Any thread.
struct ConnectionBudget {
    std::atomic<std::size_t> live{0};
};

namespace detail {
struct ServerCore;
}

class Server {
public:
    // Where an accepting server hands its accepted sockets (ServerGroup: to another reactor).
    using Dispatch = std::function<void(io::Socket)>;

    // Validates the config (users, scheme, certificate) without binding anything. Servers
    // given the same budget share max-sessions; null: a budget of its own.
    static Result<std::unique_ptr<Server>> create(io::Reactor& reactor, ServerConfig config,
                                                  std::shared_ptr<ConnectionBudget> budget = {});
    // Every check create() makes (users, scheme, fallback, certificate and key), without a
    // reactor and without binding: `anytls server --check`.
    static Result<void> check(const ServerConfig& config);
    ~Server();  // stop()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds the listen address and starts accepting on the reactor. With a dispatch, each
    // accepted socket goes to it instead of being served here.
    Result<void> start(Dispatch dispatch = {});
    // Serves a connection that another server of its group accepted; dropped (closed) once
    // stopped.
    void adopt(io::Socket socket);
    // The bound address (with the real port when listen used port 0).
    io::SocketAddress local_address() const;
    // Runs the AnyTLS layer (auth preamble, then frames) over a connection that is already
    // established, as if it had been accepted; for the session fuzzer, which joins a client
    // and this server over socket pairs with tls::TlsConnection::plaintext().
    void serve(std::unique_ptr<tls::TlsConnection> connection);
    // Takes the users and the padding scheme of `fresh` for the connections that come next
    // (docs/SERVER.md, "Reloading"); sessions already open keep going. The other keys of
    // `fresh` are not looked at. On an error nothing changes.
    Result<void> reload(const ServerConfig& fresh);
    // Stops accepting and closes every session; idempotent.
    void stop();
    // stop(), then resumes once every coroutine of the server has ended (docs/DESIGN.md,
    // "Shutdown"): stop() cancels their waits, so this is quick. The Server may then go.
    io::Task<void> shutdown();

    // Authenticated sessions open now.
    std::size_t session_count() const;
    // This server's connections now, handshaking and authenticated.
    ServerThreadState state() const;
    // Client data received and not yet sent to targets, over all streams (each stream holds at
    // most stream_buffer_limit + one frame; for tests and monitoring).
    std::size_t buffered_bytes() const;
    const ServerStats& stats() const;

private:
    explicit Server(std::shared_ptr<detail::ServerCore> core) : core_(std::move(core)) {}
    std::shared_ptr<detail::ServerCore> core_;
};

}  // namespace anytls::server
