// The fallback relay (see fallback_relay.hpp), on the shared io::relay (docs/DESIGN.md,
// "Relays").
#include "server/fallback_relay.hpp"

#include <span>

#include "io/relay.hpp"
#include "io/tcp.hpp"
#include "log/log.hpp"

namespace anytls::server {

namespace {

// a: the client's TLS connection; b: the fallback service's socket. No half-close: the first
// end of either side ends both.
struct FallbackLink {
    std::unique_ptr<tls::TlsConnection> connection;
    io::Socket socket;
    io::SocketEndpoint socket_end;
    io::Reactor* reactor = nullptr;
    io::Duration write_timeout{};

    tls::TlsConnection& a() { return *connection; }
    io::SocketEndpoint& b() { return socket_end; }

    io::RelayDirectionOptions options(io::RelayDirection) const {
        io::RelayDirectionOptions options;
        options.reactor = reactor;
        options.write_timeout = write_timeout;
        return options;
    }
    io::Task<void> direction_ended(io::RelayDirection direction, io::RelayEnd) {
        // The client is done (or gone): the fallback sees the end, and its reply direction
        // ends with it. The fallback is done: the TLS connection is torn down.
        if (direction == io::RelayDirection::a_to_b)
            socket.shutdown();
        else
            connection->abort();
        co_return;
    }
    io::Task<void> both_ended() { co_return; }
};

}  // namespace

io::Task<void> run_fallback(io::Reactor* reactor, io::TaskScope& scope,
                            std::unique_ptr<tls::TlsConnection> connection,
                            std::vector<std::uint8_t> already_read, FallbackOptions options) {
    auto socket = co_await io::tcp_connect(*reactor, options.target.host, options.target.port,
                                           options.connect_timeout, options.cancel);
    if (!socket) {
        log::debug("[AnyTLS] fallback connect failed: {}", socket.error().text());
        co_return;
    }
    if (options.connected) ++*options.connected;
    log::debug("[AnyTLS] relaying a failed authentication to the fallback {}",
               format_host_port(options.target.host, options.target.port));
    auto link = std::make_shared<FallbackLink>();
    link->connection = std::move(connection);
    link->socket = std::move(socket).value();
    link->socket_end = io::SocketEndpoint{reactor, link->socket.fd(), options.cancel};
    link->reactor = reactor;
    link->write_timeout = options.write_timeout;
    auto sent = co_await io::send_all(*reactor, link->socket.fd(),
                                      std::as_bytes(std::span<const std::uint8_t>(already_read)),
                                      options.write_timeout, options.cancel);
    if (!sent) {
        log::debug("[AnyTLS] fallback send failed: {}", sent.error().text());
        co_return;
    }
    co_await io::relay(scope, std::move(link));
}

}  // namespace anytls::server
