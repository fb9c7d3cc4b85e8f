// One client connection of the SOCKS5 / HTTP entry point and what its parts share: the
// entry's context, the connection record, the small reads and writes of a handshake, the open
// through the pool and the relay to the stream (docs/DESIGN.md, "Relays"). The protocols
// (socks5_entry, http_entry, udp_associate) and the accept loop (proxy_inbound) build on it.
// Internal to lib/inbound. Reactor thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/session_pool.hpp"
#include "inbound/listening_service.hpp"
#include "inbound/proxy_inbound.hpp"
#include "io/cancellation.hpp"
#include "io/task_scope.hpp"
#include "io/timer.hpp"
#include "io/udp.hpp"

namespace anytls::inbound {

// Every coroutine of the entry runs in the service's scope (ListeningService).
struct InboundContext : ListeningService {
    using ListeningService::ListeningService;
    std::shared_ptr<client::SessionPool> pool;
    std::string proxy_address;  // the pool's server, for messages
    InboundOptions options;
    std::uint64_t accepted = 0;
};

namespace detail {

using Bytes = std::vector<std::uint8_t>;

inline std::span<const std::byte> as_bytes(const Bytes& b) {
    return std::as_bytes(std::span<const std::uint8_t>(b));
}
inline std::span<const std::byte> as_bytes(const std::string& s) {
    return std::as_bytes(std::span<const char>(s));
}

// One client connection and everything its coroutines share.
struct Connection {
    std::shared_ptr<InboundContext> context;
    io::Socket client;
    ConnectionRecord record;
    io::TimePoint started{};
    std::shared_ptr<client::PooledStream> stream;
    bool client_eof = false;
    io::TimePoint last_activity{};  // the client's FIN or the last bytes from the stream after it
    bool ended = false;             // relay: one side failed or the stream ended
    int running = 0;                // coroutines still using this connection
    bool reported = false;

    // UDP ASSOCIATE.
    io::UdpSocket udp;
    std::unique_ptr<io::CancellationSource> udp_cancel;
    std::optional<io::SocketAddress> udp_client;  // where replies go

    ~Connection() {
        if (client.valid()) context->open_connections.erase(client.fd());
    }
};

// Tells on_connection_end once, with the duration and "ok" unless a failure was recorded.
void report(Connection& c);
// Records why the connection ended; the first reason stays.
void fail(Connection& c, std::string why);

// Why the stream could not be opened (or failed before its first byte), naming the proxy or
// the target, whichever failed (client/open_failure.hpp).
std::string open_failure_text(const Connection& c, const Error& error, std::string_view target);

// Reads more of the handshake into `buffer` before `deadline`. false: EOF, error or timeout
// (recorded as the result).
io::Task<bool> read_more(Connection& c, Bytes& buffer, const io::Deadline& deadline);

io::Task<bool> send_to_client(Connection& c, std::span<const std::byte> data);

// `early` (bytes the client sent along with its request, or a UDP-over-TCP header) leaves
// with the stream's SYN. `wait`: return only once the server's SYNACK came.
io::Task<Result<std::shared_ptr<client::PooledStream>>> open_through_pool(Connection& c,
                                                                          std::string host,
                                                                          std::uint16_t port,
                                                                          Bytes early, bool wait);

// Ends the connection's relay from any of its coroutines: the client socket is shut down,
// the UDP waits cancelled, the stream closed.
io::Task<void> end_relay(std::shared_ptr<Connection> c);
// One of the connection's coroutines is done; the last closes the stream and reports.
io::Task<void> finish_task(std::shared_ptr<Connection> c);

// Relays the client socket and c->stream both ways (io::relay) until both are done.
io::Task<void> relay(std::shared_ptr<Connection> c);

// The protocols, each from the first bytes read.
io::Task<void> serve_socks5(std::shared_ptr<Connection> c, Bytes buffer, io::Deadline deadline);
io::Task<void> serve_http(std::shared_ptr<Connection> c, Bytes buffer, io::Deadline deadline);
io::Task<void> udp_associate(std::shared_ptr<Connection> c);

}  // namespace detail

}  // namespace anytls::inbound
