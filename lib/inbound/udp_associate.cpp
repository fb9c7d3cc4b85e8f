// SOCKS5 UDP ASSOCIATE (RFC 1928 section 7) over one UDP-over-TCP v2 stream: datagrams from
// the client's address go to the stream as packets, packets from the stream go back to the
// client as datagrams; the TCP control connection's end ends it (docs/SOCKS.md).
#include <fmt/format.h>

#include <cerrno>

#include "base/errors.hpp"
#include "base/page_buffer.hpp"
#include "inbound/inbound_connection.hpp"
#include "inbound/socks5_parser.hpp"
#include "io/relay.hpp"
#include "proto/udp_over_tcp.hpp"

namespace anytls::inbound::detail {

namespace {

bool same_host(const io::SocketAddress& a, const io::SocketAddress& b) {
    return io::unmap_ipv4(a).host_string() == io::unmap_ipv4(b).host_string();
}

io::Task<void> udp_client_to_stream(std::shared_ptr<Connection> c, io::SocketAddress tcp_peer) {
    io::Reactor& r = *c->context->reactor;
    std::vector<std::byte> buffer(io::max_udp_payload);
    Bytes packet;
    while (!c->ended) {
        auto receive =
            io::receive_datagram(r, c->udp.fd(), buffer, io::Duration::zero(), c->udp_cancel.get());
        auto got = co_await receive;
        if (c->ended) break;
        if (!got) {
            fail(*c, fmt::format("the UDP socket failed: {}", got.error().text()));
            break;
        }
        if (got->truncated || !same_host(got->source, tcp_peer)) continue;  // not our client's
        auto datagram = std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(buffer.data()), got->size);
        auto header = parse_socks5_udp_datagram(datagram);
        if (!header || header->fragment != 0) continue;
        c->udp_client = got->source;
        packet.clear();
        auto payload = datagram.subspan(header->header_size);
        if (!proto::append_udp_over_tcp_packet(packet, false, &header->address, payload)) continue;
        auto written =
            co_await c->stream->write(as_bytes(packet), c->context->options.write_timeout);
        if (!written) {
            if (!c->ended)
                fail(*c, fmt::format("writing to the stream failed: {}", written.error().text()));
            break;
        }
        c->record.bytes_up += payload.size();
    }
    co_await end_relay(c);
    co_await finish_task(c);
}

io::Task<void> udp_stream_to_client(std::shared_ptr<Connection> c) {
    io::Reactor& r = *c->context->reactor;
    PageBuffer pages(io::relay_buffer_size);
    const std::span<std::byte> buffer = pages.span();
    proto::UdpOverTcpPacketDecoder decoder(false);
    Bytes datagram;
    bool done = false;
    while (!done && !c->ended) {
        auto n = co_await c->stream->read(buffer, io::Duration::zero());
        if (!n || *n == 0) {
            if (!n && n.code() != errc::closed && !c->ended)
                fail(*c, fmt::format("the stream failed: {}", n.error().text()));
            break;
        }
        decoder.feed(std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(buffer.data()), *n));
        for (;;) {
            auto next = decoder.next();
            if (!next) {
                fail(*c,
                     fmt::format("bad UDP-over-TCP data from the server: {}", next.error().text()));
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

}  // namespace

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
        if (auto any_port = io::SocketAddress::parse_numeric(udp_local.host_string(), 0))
            udp_local = *any_port;
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
    auto opened =
        co_await open_through_pool(*c, std::string(proto::udp_over_tcp_host), 0, std::move(header),
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
    auto bound_address =
        proto::SocksAddress::from_host(udp_address->host_string(), udp_address->port());
    auto reply = socks5_reply_message(
        socks5_reply::succeeded,
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

}  // namespace anytls::inbound::detail
