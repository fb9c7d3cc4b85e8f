// The local SOCKS5 / HTTP entry point's I/O (see proxy_inbound.hpp).
#include "inbound/proxy_inbound.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <set>
#include <vector>

#include "base/errors.hpp"
#include "base/host_port.hpp"
#include "client/open_failure.hpp"
#include "base/page_buffer.hpp"
#include "inbound/http_proxy_parser.hpp"
#include "io/cancellation.hpp"
#include "io/timer.hpp"
#include "io/udp.hpp"
#include "io/task_scope.hpp"
#include "log/log.hpp"
#include "proto/udp_over_tcp.hpp"

namespace anytls::inbound {

struct InboundContext {
    io::Reactor* reactor = nullptr;
    std::shared_ptr<client::SessionPool> pool;
    std::string proxy_address;  // the pool's server, for messages
    InboundOptions options;
    io::TcpListener listener;
    // Every coroutine of the entry runs here (they hold this context, so it outlives them);
    // stop() cancels its waits, shutdown() joins it (docs/DESIGN.md, "Shutdown").
    std::unique_ptr<io::TaskScope> scope;
    std::set<int> open_connections;  // client fds, shut down by stop()
    std::uint64_t accepted = 0;
    bool stopping = false;
    bool accept_loop_running = false;
};

namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::size_t kRelayBuffer = 64 * 1024;

// A relay buffer of mapped pages (base/page_buffer.hpp): only the pages a receive writes
// become resident, so a quiet connection costs a few KiB rather than 64 KiB per direction.
struct RelayBuffer {
    PageBuffer bytes{kRelayBuffer};
    std::byte* data() { return bytes.data(); }
    static constexpr std::size_t size() { return kRelayBuffer; }
    std::span<std::byte> span() { return bytes.span(); }
};

std::span<const std::byte> as_bytes(const Bytes& b) { return std::as_bytes(std::span<const std::uint8_t>(b)); }
std::span<const std::byte> as_bytes(const std::string& s) { return std::as_bytes(std::span<const char>(s)); }

// One client connection and everything its coroutines share.
struct Connection {
    std::shared_ptr<InboundContext> context;
    io::Socket client;
    ConnectionRecord record;
    io::TimePoint started{};
    std::shared_ptr<client::PooledStream> stream;
    bool client_eof = false;
    io::TimePoint last_activity{};  // the client's FIN or the last bytes from the stream after it
    bool ended = false;      // relay: one side failed or the stream ended
    int running = 0;         // coroutines still using this connection
    bool reported = false;

    // UDP ASSOCIATE.
    io::UdpSocket udp;
    std::unique_ptr<io::CancellationSource> udp_cancel;
    std::optional<io::SocketAddress> udp_client;  // where replies go

    ~Connection() {
        if (client.valid()) context->open_connections.erase(client.fd());
    }
};

void report(Connection& c) {
    if (c.reported) return;
    c.reported = true;
    c.record.duration = c.context->reactor->now() - c.started;
    if (c.record.result.empty()) c.record.result = "ok";
    if (c.context->options.on_connection_end) c.context->options.on_connection_end(c.record);
}

void fail(Connection& c, std::string why) {
    if (c.record.result.empty()) c.record.result = std::move(why);
}

// Why the stream could not be opened (or failed before its first byte), naming the proxy or
// the target, whichever failed (client/open_failure.hpp).
std::string open_failure_text(const Connection& c, const Error& error, std::string_view target) {
    const InboundContext& context = *c.context;
    return client::describe_open_failure(error, client::ProxyLabel{context.pool->proxy_name(), context.proxy_address},
                                         target);
}

// Reads more of the handshake into `buffer` before `deadline`. false: EOF, error or timeout
// (recorded as the result).
io::Task<bool> read_more(Connection& c, Bytes& buffer, const io::Deadline& deadline) {
    std::uint8_t chunk[4096];
    auto receive = io::recv(*c.context->reactor, c.client.fd(), chunk, sizeof chunk, deadline.remaining());
    auto n = co_await receive;
    if (!n) {
        fail(c, n.code() == -ETIMEDOUT ? "the client did not finish its request in time"
                                       : fmt::format("reading the request failed: {}", n.error().text()));
        co_return false;
    }
    if (*n == 0) {
        fail(c, "the client closed the connection before finishing its request");
        co_return false;
    }
    buffer.insert(buffer.end(), chunk, chunk + *n);
    co_return true;
}

io::Task<bool> send_to_client(Connection& c, std::span<const std::byte> data) {
    auto sent = co_await io::send_all(*c.context->reactor, c.client.fd(), data, c.context->options.write_timeout);
    if (!sent) {
        fail(c, fmt::format("writing to the client failed: {}", sent.error().text()));
        co_return false;
    }
    co_return true;
}

// --- the relay ----------------------------------------------------------------------------

io::Task<void> end_relay(std::shared_ptr<Connection> c) {
    if (!c->ended) {
        c->ended = true;
        if (c->udp_cancel) c->udp_cancel->cancel();
        if (c->client.valid()) c->client.shutdown(SHUT_RDWR);
    }
    if (c->stream && !c->stream->closed()) (void)co_await c->stream->close();
}

io::Task<void> finish_task(std::shared_ptr<Connection> c) {
    if (--c->running > 0) co_return;
    if (c->stream && !c->stream->closed()) (void)co_await c->stream->close();
    report(*c);
}

io::Task<void> client_to_stream(std::shared_ptr<Connection> c) {
    io::Reactor& r = *c->context->reactor;
    RelayBuffer buffer;
    for (;;) {
        auto receive = io::recv(r, c->client.fd(), buffer.data(), buffer.size());
        auto n = co_await receive;
        if (c->ended) break;
        if (!n) {
            fail(*c, fmt::format("the client connection failed: {}", n.error().text()));
            co_await end_relay(c);
            break;
        }
        if (*n == 0 && c->context->stopping) {
            // stop() shut the socket down: end the stream too.
            co_await end_relay(c);
            break;
        }
        if (*n == 0) {
            // A half-close: the stream stays open so that the answer still arrives, and
            // hands its session back to the pool meanwhile (it only drains now).
            c->client_eof = true;
            c->last_activity = r.now();
            c->stream->linger();
            break;
        }
        auto written = co_await c->stream->write(std::span<const std::byte>(buffer.data(), *n),
                                                 c->context->options.write_timeout);
        if (!written) {
            if (!c->ended) fail(*c, fmt::format("writing to the stream failed: {}", written.error().text()));
            co_await end_relay(c);
            break;
        }
        c->record.bytes_up += *n;
    }
    co_await finish_task(c);
}

io::Task<void> stream_to_client(std::shared_ptr<Connection> c) {
    io::Reactor& r = *c->context->reactor;
    RelayBuffer buffer;
    // Reads wait in slices so the half-close linger is noticed without a second timer.
    constexpr io::Duration kReadSlice = std::chrono::seconds(1);
    for (;;) {
        auto n = co_await c->stream->read(buffer.span(), kReadSlice);
        if (!n && n.code() == -ETIMEDOUT && !c->ended) {
            if (c->client_eof && r.now() - c->last_activity >= c->context->options.half_close_linger) break;
            continue;
        }
        if (!n || *n == 0) {
            if (!n && n.code() != errc::closed && !c->ended) {
                // Before the first byte, a failure is the open's (a refused target, a wrong
                // password), told as the open's error would have been.
                const bool before_answer = c->record.bytes_down == 0;
                const std::string why = before_answer ? open_failure_text(*c, n.error(), c->record.target)
                                                      : fmt::format("the stream failed: {}", n.error().text());
                fail(*c, why);
                if (c->record.protocol == "http" && before_answer) {
                    // A plain-HTTP request was sent with the SYN, before the server could say
                    // whether it reached the target: its refusal becomes the error page here.
                    auto page = http_error_response(http_status_for(n.error()), why);
                    (void)co_await io::send_all(r, c->client.fd(), as_bytes(page), c->context->options.write_timeout);
                }
            }
            break;
        }
        if (c->client_eof) c->last_activity = r.now();
        auto sent = co_await io::send_all(r, c->client.fd(), std::span<const std::byte>(buffer.data(), *n),
                                          c->context->options.write_timeout);
        if (!sent) {
            if (!c->ended) fail(*c, fmt::format("writing to the client failed: {}", sent.error().text()));
            break;
        }
        c->record.bytes_down += *n;
    }
    // The stream is over (FIN closes both ways): the client gets its FIN after the last byte,
    // and a read still waiting on the client is woken.
    if (!c->ended) {
        c->ended = true;
        c->client.shutdown(SHUT_WR);
        if (!c->client_eof) c->client.shutdown(SHUT_RD);
    }
    if (!c->stream->closed()) (void)co_await c->stream->close();
    co_await finish_task(c);
}

// Sends `early` (bytes after the request) to the stream, then relays both ways.
io::Task<void> relay(std::shared_ptr<Connection> c, Bytes early) {
    if (!early.empty()) {
        auto written = co_await c->stream->write(as_bytes(early), c->context->options.write_timeout);
        if (!written) {
            fail(*c, fmt::format("writing to the stream failed: {}", written.error().text()));
            (void)co_await c->stream->close();
            report(*c);
            co_return;
        }
        c->record.bytes_up += early.size();
    }
    c->running = 2;
    c->context->scope->spawn(stream_to_client(c));
    co_await client_to_stream(c);
}

// `early` (bytes the client sent along with its request, or a UDP-over-TCP header) leaves
// with the stream's SYN. `wait`: return only once the server's SYNACK came.
io::Task<Result<std::shared_ptr<client::PooledStream>>> open_through_pool(Connection& c, std::string host,
                                                                          std::uint16_t port, Bytes early, bool wait) {
    client::OpenOptions options;
    options.cancel = &c.context->scope->cancellation();
    options.early_data = std::move(early);
    options.wait_connected = wait;
    auto opened = co_await c.context->pool->open_stream(std::move(host), port, c.context->options.open_timeout,
                                                        std::move(options));
    if (!opened) co_return std::move(opened).error();
    co_return std::make_shared<client::PooledStream>(std::move(opened).value());
}

// --- UDP ASSOCIATE ------------------------------------------------------------------------

bool same_host(const io::SocketAddress& a, const io::SocketAddress& b) {
    return io::unmap_ipv4(a).host_string() == io::unmap_ipv4(b).host_string();
}

io::Task<void> udp_client_to_stream(std::shared_ptr<Connection> c, io::SocketAddress tcp_peer) {
    io::Reactor& r = *c->context->reactor;
    std::vector<std::byte> buffer(io::max_udp_payload);
    Bytes packet;
    while (!c->ended) {
        auto receive = io::receive_datagram(r, c->udp.fd(), buffer, io::Duration::zero(), c->udp_cancel.get());
        auto got = co_await receive;
        if (c->ended) break;
        if (!got) {
            fail(*c, fmt::format("the UDP socket failed: {}", got.error().text()));
            break;
        }
        if (got->truncated || !same_host(got->source, tcp_peer)) continue;  // not our client's
        auto datagram = std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(buffer.data()), got->size);
        auto header = parse_socks5_udp_datagram(datagram);
        if (!header || header->fragment != 0) continue;
        c->udp_client = got->source;
        packet.clear();
        auto payload = datagram.subspan(header->header_size);
        if (!proto::append_udp_over_tcp_packet(packet, false, &header->address, payload)) continue;
        auto written = co_await c->stream->write(as_bytes(packet), c->context->options.write_timeout);
        if (!written) {
            if (!c->ended) fail(*c, fmt::format("writing to the stream failed: {}", written.error().text()));
            break;
        }
        c->record.bytes_up += payload.size();
    }
    co_await end_relay(c);
    co_await finish_task(c);
}

io::Task<void> udp_stream_to_client(std::shared_ptr<Connection> c) {
    io::Reactor& r = *c->context->reactor;
    RelayBuffer buffer;
    proto::UdpOverTcpPacketDecoder decoder(false);
    Bytes datagram;
    bool done = false;
    while (!done && !c->ended) {
        auto n = co_await c->stream->read(buffer.span(), io::Duration::zero());
        if (!n || *n == 0) {
            if (!n && n.code() != errc::closed && !c->ended)
                fail(*c, fmt::format("the stream failed: {}", n.error().text()));
            break;
        }
        decoder.feed(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(buffer.data()), *n));
        for (;;) {
            auto next = decoder.next();
            if (!next) {
                fail(*c, fmt::format("bad UDP-over-TCP data from the server: {}", next.error().text()));
                done = true;
                break;
            }
            if (!*next) break;
            const auto& view = **next;
            if (!c->udp_client || !view.address) continue;
            datagram.clear();
            if (!append_socks5_udp_header(datagram, *view.address)) continue;
            datagram.insert(datagram.end(), view.payload.begin(), view.payload.end());
            auto send = io::send_datagram(r, c->udp.fd(), as_bytes(datagram), *c->udp_client,
                                          c->context->options.write_timeout);
            auto sent = co_await send;
            if (sent) c->record.bytes_down += view.payload.size();
        }
    }
    co_await end_relay(c);
    co_await finish_task(c);
}

io::Task<void> udp_watch_control(std::shared_ptr<Connection> c) {
    std::uint8_t chunk[512];
    for (;;) {
        auto receive = io::recv(*c->context->reactor, c->client.fd(), chunk, sizeof chunk);
        auto n = co_await receive;
        if (!n || *n == 0 || c->ended) break;  // bytes on the control connection are ignored
    }
    co_await end_relay(c);
    co_await finish_task(c);
}

// The request's DST.ADDR/DST.PORT are only hints (RFC 1928 section 7): datagrams are taken
// from the TCP client's IP address, whatever their port.
io::Task<void> udp_associate(std::shared_ptr<Connection> c) {
    c->record.protocol = "socks5-udp";
    auto fail_reply = [&](std::uint8_t code) { return socks5_failure_reply(code); };
    auto local = c->client.local_address();
    auto peer = c->client.peer_address();
    Result<io::UdpSocket> bound = make_error(-EINVAL, "no local address");
    if (local) {
        // The address the client reached us on, so that it can reach the relay socket too.
        io::SocketAddress udp_local = io::unmap_ipv4(*local);
        if (auto any_port = io::SocketAddress::parse_numeric(udp_local.host_string(), 0)) udp_local = *any_port;
        bound = io::UdpSocket::bind(udp_local);
    }
    if (!bound || !peer) {
        fail(*c, "cannot bind the UDP relay socket");
        (void)co_await send_to_client(*c, as_bytes(fail_reply(socks5_reply::general_failure)));
        report(*c);
        co_return;
    }
    c->udp = std::move(bound).value();
    auto udp_address = c->udp.local_address();
    // The UDP-over-TCP request header leaves with the SYN: a server that reads it before it
    // routes (sing-box) sends its SYNACK only after that, so waiting for the SYNACK first
    // would wait forever.
    Bytes header;
    (void)proto::append_udp_over_tcp_request(
        header, proto::UdpOverTcpRequest{false, proto::SocksAddress::from_ipv4({0, 0, 0, 0}, 0)});
    auto opened = co_await open_through_pool(*c, std::string(proto::udp_over_tcp_host), 0, std::move(header),
                                             c->context->options.reply_after_synack);
    if (!opened) {
        fail(*c, fmt::format("cannot open a UDP-over-TCP stream: {}",
                             open_failure_text(*c, opened.error(), proto::udp_over_tcp_host)));
        (void)co_await send_to_client(*c, as_bytes(fail_reply(socks5_reply_for(opened.error()))));
        report(*c);
        co_return;
    }
    c->stream = std::move(opened).value();
    if (!udp_address) {
        fail(*c, "cannot start the UDP-over-TCP stream");
        (void)co_await send_to_client(*c, as_bytes(fail_reply(socks5_reply::general_failure)));
        (void)co_await c->stream->close();
        report(*c);
        co_return;
    }
    auto bound_address = proto::SocksAddress::from_host(udp_address->host_string(), udp_address->port());
    auto reply = socks5_reply_message(socks5_reply::succeeded,
                                      bound_address ? *bound_address : proto::SocksAddress::from_ipv4({0, 0, 0, 0}, 0));
    if (!co_await send_to_client(*c, as_bytes(reply))) {
        (void)co_await c->stream->close();
        report(*c);
        co_return;
    }
    c->udp_cancel = std::make_unique<io::CancellationSource>(*c->context->reactor);
    c->running = 3;
    c->context->scope->spawn(udp_stream_to_client(c));
    c->context->scope->spawn(udp_client_to_stream(c, *peer));
    co_await udp_watch_control(c);
}

// --- SOCKS5 -------------------------------------------------------------------------------

io::Task<void> serve_socks5(std::shared_ptr<Connection> c, Bytes buffer, io::Deadline deadline) {
    c->record.protocol = "socks5";
    const auto& options = c->context->options;
    // Greeting.
    Socks5GreetingParse greeting;
    for (;;) {
        auto parsed = parse_socks5_greeting(buffer);
        if (!parsed) {
            fail(*c, parsed.error().text());
            report(*c);
            co_return;
        }
        if (parsed->status == ParseStatus::done) {
            greeting = std::move(parsed).value();
            break;
        }
        if (!co_await read_more(*c, buffer, deadline)) {
            report(*c);
            co_return;
        }
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(greeting.consumed));
    const std::uint8_t method = choose_socks5_method(greeting.greeting, options.credentials.has_value());
    const Bytes choice{socks5_version, method};
    if (!co_await send_to_client(*c, as_bytes(choice)) || method == socks5_method_unacceptable) {
        if (method == socks5_method_unacceptable)
            fail(*c, options.credentials ? "the client offered no username/password authentication"
                                         : "the client offered no acceptable authentication method");
        report(*c);
        co_return;
    }
    if (method == socks5_method_user_password) {
        Socks5CredentialsParse credentials;
        for (;;) {
            auto parsed = parse_socks5_user_password(buffer);
            if (!parsed) {
                fail(*c, parsed.error().text());
                report(*c);
                co_return;
            }
            if (parsed->status == ParseStatus::done) {
                credentials = std::move(parsed).value();
                break;
            }
            if (!co_await read_more(*c, buffer, deadline)) {
                report(*c);
                co_return;
            }
        }
        buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(credentials.consumed));
        const bool ok = credentials_match(credentials.credentials, *options.credentials);
        const Bytes status{socks5_user_password_version, static_cast<std::uint8_t>(ok ? 0x00 : 0x01)};
        if (!co_await send_to_client(*c, as_bytes(status)) || !ok) {
            if (!ok) fail(*c, "wrong SOCKS5 username or password");
            report(*c);
            co_return;
        }
    }
    // Request.
    Socks5RequestParse request;
    for (;;) {
        bool unsupported_type = false;
        auto parsed = parse_socks5_request(buffer, &unsupported_type);
        if (!parsed) {
            fail(*c, parsed.error().text());
            const std::uint8_t code =
                unsupported_type ? socks5_reply::address_type_not_supported : socks5_reply::general_failure;
            (void)co_await send_to_client(*c, as_bytes(socks5_failure_reply(code)));
            report(*c);
            co_return;
        }
        if (parsed->status == ParseStatus::done) {
            request = std::move(parsed).value();
            break;
        }
        if (!co_await read_more(*c, buffer, deadline)) {
            report(*c);
            co_return;
        }
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(request.consumed));
    c->record.target = request.request.address.to_string();
    if (request.request.command == static_cast<std::uint8_t>(Socks5Command::udp_associate)) {
        co_await udp_associate(c);
        co_return;
    }
    if (request.request.command != static_cast<std::uint8_t>(Socks5Command::connect)) {
        fail(*c, fmt::format("SOCKS5 command {} is not supported (CONNECT and UDP ASSOCIATE are)",
                             request.request.command));
        (void)co_await send_to_client(*c, as_bytes(socks5_failure_reply(socks5_reply::command_not_supported)));
        report(*c);
        co_return;
    }
    // Bytes the client sent right behind its request leave with the SYN.
    c->record.bytes_up += buffer.size();
    auto opened = co_await open_through_pool(*c, request.request.address.host(), request.request.address.port,
                                             std::move(buffer), c->context->options.reply_after_synack);
    if (!opened) {
        fail(*c, open_failure_text(*c, opened.error(), c->record.target));
        (void)co_await send_to_client(*c, as_bytes(socks5_failure_reply(socks5_reply_for(opened.error()))));
        report(*c);
        co_return;
    }
    c->stream = std::move(opened).value();
    auto local = c->client.local_address();
    auto bound = local ? proto::SocksAddress::from_host(local->host_string(), local->port())
                       : Result<proto::SocksAddress>(proto::SocksAddress::from_ipv4({0, 0, 0, 0}, 0));
    auto reply = socks5_reply_message(socks5_reply::succeeded,
                                      bound ? *bound : proto::SocksAddress::from_ipv4({0, 0, 0, 0}, 0));
    if (!co_await send_to_client(*c, as_bytes(reply))) {
        (void)co_await c->stream->close();
        report(*c);
        co_return;
    }
    co_await relay(c, {});
}

// --- HTTP ---------------------------------------------------------------------------------

io::Task<void> http_reply_error(std::shared_ptr<Connection> c, int status, std::string message,
                                std::string_view extra_headers = {}) {
    fail(*c, fmt::format("HTTP {}: {}", status, message));
    (void)co_await send_to_client(*c, as_bytes(http_error_response(status, message, extra_headers)));
    c->client.shutdown(SHUT_WR);
    report(*c);
}

io::Task<void> serve_http(std::shared_ptr<Connection> c, Bytes buffer, io::Deadline deadline) {
    c->record.protocol = "http";
    HttpProxyRequestParse parsed;
    for (;;) {
        auto attempt = parse_http_proxy_request(buffer);
        if (!attempt) {
            co_await http_reply_error(c, 400, attempt.error().text());
            co_return;
        }
        if (attempt->status == ParseStatus::done) {
            parsed = std::move(attempt).value();
            break;
        }
        if (!co_await read_more(*c, buffer, deadline)) {
            if (c->record.result.find("in time") != std::string::npos) {
                std::string why = c->record.result;
                c->record.result.clear();
                co_await http_reply_error(c, 408, why);
            } else {
                report(*c);
            }
            co_return;
        }
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(parsed.consumed));
    const HttpProxyRequest& request = parsed.request;
    if (request.tunnel) c->record.protocol = "http-connect";
    c->record.target = format_host_port(request.host, request.port);
    if (const auto& credentials = c->context->options.credentials;
        credentials && !basic_proxy_authorization_matches(request, *credentials)) {
        co_await http_reply_error(c, 407, "this proxy requires a username and password",
                                  "Proxy-Authenticate: Basic realm=\"anytls\"\r\n");
        co_return;
    }
    // A tunnel's first bytes, or the whole request of a plain-HTTP proxy, leave with the SYN.
    Bytes early;
    if (!request.tunnel) {
        const std::string head = origin_request_head(request);
        early.assign(head.begin(), head.end());
    }
    early.insert(early.end(), buffer.begin(), buffer.end());
    c->record.bytes_up += early.size();
    // A plain-HTTP request has no reply to send before the answer, so nothing is lost by
    // waiting there only where the switch says so; the error page then comes from
    // stream_to_client when the answer fails before its first byte.
    auto opened = co_await open_through_pool(*c, request.host, request.port, std::move(early),
                                             c->context->options.reply_after_synack);
    if (!opened) {
        const int status = http_status_for(opened.error());
        co_await http_reply_error(c, status, open_failure_text(*c, opened.error(), c->record.target));
        co_return;
    }
    c->stream = std::move(opened).value();
    if (request.tunnel) {
        const std::string established = request.version + " 200 Connection established\r\n\r\n";
        if (!co_await send_to_client(*c, as_bytes(established))) {
            (void)co_await c->stream->close();
            report(*c);
            co_return;
        }
    }
    co_await relay(c, {});
}

// --- accept -------------------------------------------------------------------------------

io::Task<void> serve(std::shared_ptr<Connection> c) {
    const io::Deadline deadline = io::Deadline::after(c->context->options.handshake_timeout);
    Bytes buffer;
    if (!co_await read_more(*c, buffer, deadline)) {
        report(*c);
        co_return;
    }
    if (buffer[0] == socks5_version)
        co_await serve_socks5(c, std::move(buffer), deadline);
    else if (buffer[0] == 0x04) {
        c->record.protocol = "socks4";
        fail(*c, "SOCKS4 is not supported (use SOCKS5)");
        const Bytes reply{0x00, 0x5B, 0, 0, 0, 0, 0, 0};  // SOCKS4 "request rejected"
        (void)co_await send_to_client(*c, as_bytes(reply));
        report(*c);
    } else {
        co_await serve_http(c, std::move(buffer), deadline);
    }
}

io::Task<void> accept_loop(std::shared_ptr<InboundContext> context) {
    io::Reactor& r = *context->reactor;
    while (!context->stopping) {
        auto accept = context->listener.accept(r, &context->scope->cancellation());
        auto accepted = co_await accept;
        if (context->stopping) break;
        if (!accepted) {
            log::warn("[AnyTLS] socks: accept failed: {}", accepted.error().text());
            // EMFILE and friends: give the system a moment instead of spinning.
            (void)co_await io::sleep_for(r, std::chrono::milliseconds(100), &context->scope->cancellation());
            continue;
        }
        ++context->accepted;
        auto c = std::make_shared<Connection>();
        c->context = context;
        c->client = std::move(accepted).value();
        (void)c->client.set_nodelay(true);
        c->started = r.now();
        if (auto peer = c->client.peer_address()) c->record.client = peer->to_string();
        context->open_connections.insert(c->client.fd());
        context->scope->spawn(serve(std::move(c)));
    }
    context->accept_loop_running = false;
}

}  // namespace

std::uint8_t socks5_reply_for(const Error& error) {
    // 0x01 says the proxy failed; 0x03 to 0x05 that the server worked and the target did not.
    switch (client::classify_open_failure(error)) {
        case client::OpenFailure::target_refused: return socks5_reply::connection_refused;
        case client::OpenFailure::target_network_unreachable: return socks5_reply::network_unreachable;
        case client::OpenFailure::target_timeout:
        case client::OpenFailure::target_unreachable: return socks5_reply::host_unreachable;
        default: return socks5_reply::general_failure;
    }
}

int http_status_for(const Error& error) {
    switch (client::classify_open_failure(error)) {
        case client::OpenFailure::proxy_timeout:
        case client::OpenFailure::target_timeout: return 504;
        default: return 502;
    }
}

ProxyInbound::ProxyInbound(io::Reactor& reactor, std::shared_ptr<client::SessionPool> pool, InboundOptions options)
    : context_(std::make_shared<InboundContext>()) {
    context_->reactor = &reactor;
    context_->proxy_address = pool->server_address();
    context_->pool = std::move(pool);
    context_->options = std::move(options);
    context_->scope = std::make_unique<io::TaskScope>(reactor);
}

ProxyInbound::~ProxyInbound() { stop(); }

Result<io::SocketAddress> ProxyInbound::start() {
    auto listener = io::TcpListener::listen(context_->options.listen);
    if (!listener) return std::move(listener).error();
    context_->listener = std::move(listener).value();
    context_->accept_loop_running = true;
    context_->scope->spawn(accept_loop(context_));
    return context_->listener.address();
}

void ProxyInbound::stop() {
    if (context_->stopping) return;
    context_->stopping = true;
    // Ends the accept, the opens in flight (OpenOptions::cancel) and the UDP relays' waits;
    // the shut-down client sockets end the rest.
    context_->scope->cancel();
    for (int fd : context_->open_connections) ::shutdown(fd, SHUT_RDWR);
}

io::Task<void> ProxyInbound::shutdown() {
    stop();
    co_await context_->scope->join();
}

std::uint64_t ProxyInbound::connections_accepted() const { return context_->accepted; }

std::size_t ProxyInbound::open_connections() const { return context_->open_connections.size(); }

}  // namespace anytls::inbound
