// ProxyInbound: the local entry point of `anytls socks` — one TCP port that speaks SOCKS5
// (RFC 1928 CONNECT and UDP ASSOCIATE, RFC 1929 username/password), HTTP CONNECT and plain
// HTTP proxying, and sends every connection through one outbound's SessionPool.
//
// The protocol is told from the first byte: 0x05 is SOCKS5, anything else is read as an HTTP
// request head. The parsing itself is pure (socks5_parser.hpp, http_proxy_parser.hpp); this
// file does the I/O on the reactor: one coroutine per connection (plus one per relay
// direction), no thread per connection. The handshake (greeting, authentication, request)
// must complete within `handshake_timeout`; opening the stream through the pool within
// `open_timeout`. A CONNECT is answered before the server's SYNACK unless
// `reply_after_synack` (docs/SOCKS.md, "When the reply is sent").
//
// Relay and half-close: an AnyTLS FIN closes a stream in both directions (docs/DESIGN.md,
// "Opening a stream on the wire"), so a client's half-close (EOF while it still reads) keeps the
// stream open and the answer keeps flowing until the target ends it. When the stream ends, the
// client gets a FIN (shutdown SHUT_WR after the last byte) and the connection is done.
//
// UDP ASSOCIATE: a UDP socket is bound on the address the client reached us on, and one
// UDP-over-TCP v2 stream (per-packet mode; proto/udp_over_tcp.hpp) to the magic target
// carries the association's datagrams both ways. Datagrams are accepted only from the IP
// address of the TCP client; fragments (FRAG != 0) are dropped, as RFC 1928 section 7 allows.
// The association ends when the TCP connection closes, or the stream ends.
//
// Threads: reactor thread only (create, start, stop and every coroutine).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "client/session_pool.hpp"
#include "inbound/socks5_parser.hpp"
#include "io/reactor.hpp"
#include "io/tcp.hpp"

namespace anytls::inbound {

// What one connection did, for --verbose.
struct ConnectionRecord {
    std::string client;            // "127.0.0.1:51234"
    std::string protocol;          // "socks5", "socks5-udp", "http-connect", "http"
    std::string target;            // "example.com:443" (empty when the request never got that far)
    std::uint64_t bytes_up = 0;    // client -> target (payload bytes; datagrams for UDP)
    std::uint64_t bytes_down = 0;  // target -> client
    io::Duration duration{0};
    std::string result;  // "ok", or why it failed
};

struct InboundOptions {
    io::SocketAddress listen;
    std::optional<Socks5Credentials> credentials;  // set: SOCKS5 and HTTP require them
    io::Duration handshake_timeout = std::chrono::seconds(10);
    io::Duration open_timeout = std::chrono::seconds(20);
    io::Duration write_timeout = std::chrono::seconds(60);
    // AnyTLS has no half-close: after the client's FIN the stream stays open for the answer,
    // and ends once nothing has come from it for this long (the session then goes back to
    // its pool instead of waiting on a target that waits for the client).
    io::Duration half_close_linger = std::chrono::seconds(2);
    // When a CONNECT (SOCKS5 or HTTP) is answered: false (the default, like the reference and
    // mihomo) as soon as the stream's SYN is queued, so the client's first bytes leave one
    // round trip earlier, and a refused target then closes the connection; true once the
    // server's SYNACK came, so a refused or unreachable target gets its own SOCKS code or
    // HTTP status (`anytls socks --socks-reply after-synack`).
    bool reply_after_synack = false;
    // Called on the reactor thread when a connection ends (null: nothing).
    std::function<void(const ConnectionRecord&)> on_connection_end;
};

struct InboundContext;

class ProxyInbound {
public:
    ProxyInbound(io::Reactor& reactor, std::shared_ptr<client::SessionPool> pool,
                 InboundOptions options);
    ~ProxyInbound();
    ProxyInbound(const ProxyInbound&) = delete;
    ProxyInbound& operator=(const ProxyInbound&) = delete;

    // Binds and starts accepting; the bound address (with the real port).
    Result<io::SocketAddress> start();
    // Stops accepting and ends every open connection (their coroutines then unwind).
    void stop();
    // stop(), then resumes once every connection's coroutines have ended (an open in flight
    // is cancelled, not waited out).
    io::Task<void> shutdown();

    std::uint64_t connections_accepted() const;
    // Connections whose coroutines have not finished yet.
    std::size_t open_connections() const;

private:
    std::shared_ptr<InboundContext> context_;
};

// SOCKS5 reply code and HTTP status for a failed stream open (pure; client/open_failure.hpp
// says who failed): 0x01 / 502 when the proxy failed (unreachable, TLS, authentication, ...),
// 0x05 / 0x04 / 0x03 and 502 when the server reports the target refused, unreachable or its
// network unreachable; a timeout is 504 (0x01 at the proxy, 0x04 at the target). The table is
// in docs/SOCKS.md, "Errors".
std::uint8_t socks5_reply_for(const Error& error);
int http_status_for(const Error& error);

}  // namespace anytls::inbound
