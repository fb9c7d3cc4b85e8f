// The UDP-over-TCP v2 relay (see udp_relay.hpp).
#include "server/udp_relay.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include "base/errors.hpp"
#include "io/cancellation.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "io/udp.hpp"
#include "log/log.hpp"
#include "proto/frame.hpp"
#include "proto/udp_over_tcp.hpp"

namespace anytls::server {

namespace {

// Names a per-packet relay remembers; beyond this the cache starts over (a client spraying
// names cannot grow it without bound).
constexpr std::size_t max_cached_names = 256;

// State shared by the two directions; the UDP socket closes when both have let go of it, so
// no operation on it can still be in flight.
struct RelayState {
    explicit RelayState(io::Reactor& r) : cancel(r) {}
    io::UdpSocket socket;
    io::CancellationSource cancel;  // wakes the receive loop when the relay ends
    bool connect_mode = false;
    bool done = false;
    io::TimePoint last_activity{};
    std::map<std::string, io::SocketAddress> resolved;  // name -> address (port ignored)
    std::shared_ptr<UdpRelayStats> stats;

    void touch() { last_activity = io::SteadyClock::instance().now(); }
    bool idle_for(io::Duration limit) const {
        return io::SteadyClock::instance().now() - last_activity >= limit;
    }
};

proto::SocksAddress to_socks_address(const io::SocketAddress& address_in) {
    const io::SocketAddress address = io::unmap_ipv4(address_in);
    if (address.family() == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.get());
        std::array<std::uint8_t, 4> ip{};
        std::memcpy(ip.data(), &v4->sin_addr, 4);
        return proto::SocksAddress::from_ipv4(ip, address.port());
    }
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.get());
    std::array<std::uint8_t, 16> ip{};
    std::memcpy(ip.data(), &v6->sin6_addr, 16);
    return proto::SocksAddress::from_ipv6(ip, address.port());
}

// A SocksAddress as a socket address this relay's socket can send to. Names are resolved on
// a helper thread (io::resolve) and cached; the first address the socket can reach wins.
io::Task<Result<io::SocketAddress>> resolve_for_socket(io::Reactor* reactor,
                                                       std::shared_ptr<RelayState> state,
                                                       proto::SocksAddress target) {
    if (target.type != proto::SocksAddress::Type::domain) {
        auto numeric = io::SocketAddress::parse_numeric(target.host(), target.port);
        if (!numeric) co_return std::move(numeric).error();
        co_return state->socket.adapt(numeric.value());
    }
    auto cached = state->resolved.find(target.domain);
    if (cached == state->resolved.end()) {
        auto addresses = co_await io::resolve(*reactor, target.domain, 0);
        if (!addresses) co_return std::move(addresses).error();
        std::optional<io::SocketAddress> usable;
        for (const auto& candidate : addresses.value()) {
            if (auto adapted = state->socket.adapt(candidate)) {
                usable = adapted.value();
                break;
            }
        }
        if (!usable) co_return make_error(-EAFNOSUPPORT, "no usable address for " + target.domain);
        if (state->resolved.size() >= max_cached_names) state->resolved.clear();
        cached = state->resolved.emplace(target.domain, *usable).first;
    }
    auto with_port = io::SocketAddress::parse_numeric(cached->second.host_string(), target.port);
    if (!with_port) co_return std::move(with_port).error();
    co_return with_port.value();
}

void end_relay(RelayState& state) {
    if (state.done) return;
    state.done = true;
    state.cancel.cancel();
}

// Target -> client: each datagram becomes one uot packet written to the stream.
io::Task<void> relay_datagrams_to_client(io::Reactor* reactor, std::shared_ptr<RelayState> state,
                                         std::shared_ptr<UdpRelayStream> stream,
                                         UdpRelayOptions options) {
    std::vector<std::byte> buffer(io::max_udp_payload);
    while (!state->done) {
        auto receive = io::receive_datagram(*reactor, state->socket.fd(), buffer,
                                            options.idle_timeout, &state->cancel);
        auto datagram = co_await receive;
        if (state->done) break;
        if (!datagram) {
            if (datagram.code() == -ETIMEDOUT) {
                if (state->idle_for(options.idle_timeout)) {
                    log::debug(
                        "[AnyTLS] UDP relay idle for {}s; closing",
                        std::chrono::duration_cast<std::chrono::seconds>(options.idle_timeout)
                            .count());
                    break;
                }
                continue;
            }
            // A connected UDP socket reports an earlier ICMP error on the next receive.
            if (datagram.code() == -ECONNREFUSED || datagram.code() == -EHOSTUNREACH ||
                datagram.code() == -ENETUNREACH) {
                continue;
            }
            log::debug("[AnyTLS] UDP relay receive failed: {}", datagram.error().text());
            break;
        }
        state->touch();
        if (state->stats) ++state->stats->datagrams_received;
        std::vector<std::uint8_t> packet;
        const auto payload = std::span<const std::uint8_t>(
            reinterpret_cast<const std::uint8_t*>(buffer.data()), datagram->size);
        Result<void> encoded;
        if (state->connect_mode) {
            encoded = proto::append_udp_over_tcp_packet(packet, true, nullptr, payload);
        } else {
            const proto::SocksAddress source = to_socks_address(datagram->source);
            encoded = proto::append_udp_over_tcp_packet(packet, false, &source, payload);
        }
        if (!encoded) continue;
        auto written = co_await stream->write(std::move(packet));
        if (!written) break;
    }
    end_relay(*state);
    co_await stream->finish();
}

// Reads the request header; the bytes after it are left in `head` from `consumed` on.
io::Task<Result<proto::UdpOverTcpRequestDecode>> read_request(UdpRelayStream* stream,
                                                              std::vector<std::uint8_t>* head,
                                                              io::Duration timeout) {
    const io::Deadline deadline = io::Deadline::after(timeout);
    std::vector<std::byte> chunk(4096);
    while (true) {
        auto decoded = proto::decode_udp_over_tcp_request(*head);
        if (!decoded) co_return std::move(decoded).error();
        if (decoded->status == proto::UdpOverTcpRequestDecode::Status::done) co_return decoded;
        if (deadline.expired())
            co_return make_error(-ETIMEDOUT, "UDP-over-TCP request header timed out");
        auto n = co_await stream->read(chunk, deadline.remaining());
        if (!n) co_return std::move(n).error();
        if (*n == 0)
            co_return make_error(errc::closed, "stream ended before the UDP-over-TCP request");
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(chunk.data());
        head->insert(head->end(), bytes, bytes + *n);
    }
}

// Client -> target: sends every decoded packet as a datagram. Returns when the stream ends,
// the relay is idle, or a packet is malformed.
io::Task<void> relay_packets_to_target(io::Reactor* reactor, std::shared_ptr<RelayState> state,
                                       UdpRelayStream* stream,
                                       proto::UdpOverTcpPacketDecoder* decoder,
                                       UdpRelayOptions options) {
    std::vector<std::byte> chunk(64 * 1024);
    while (true) {
        // Drain what has been fed so far.
        while (!state->done) {
            auto packet = decoder->next();
            if (!packet) {
                log::debug("[AnyTLS] UDP relay: {}", packet.error().text());
                co_return;
            }
            if (!*packet) break;
            const auto& view = **packet;
            state->touch();
            const auto payload = std::as_bytes(view.payload);
            Result<std::size_t> sent = make_error(-EINVAL);
            if (state->connect_mode) {
                auto send = io::send_datagram(*reactor, state->socket.fd(), payload,
                                              options.write_timeout, &state->cancel);
                sent = co_await send;
            } else {
                auto destination = co_await resolve_for_socket(reactor, state, *view.address);
                if (!destination) {
                    sent = std::move(destination).error();
                } else {
                    auto send = io::send_datagram(*reactor, state->socket.fd(), payload,
                                                  destination.value(), options.write_timeout,
                                                  &state->cancel);
                    sent = co_await send;
                }
            }
            if (sent) {
                if (state->stats) ++state->stats->datagrams_sent;
            } else {
                if (state->stats) ++state->stats->datagrams_dropped;
                if (sent.code() == -ECANCELED) co_return;
                log::debug("[AnyTLS] UDP relay dropped a datagram: {}", sent.error().text());
            }
        }
        if (state->done) co_return;
        auto n = co_await stream->read(chunk, options.idle_timeout);
        if (!n) {
            if (n.code() == -ETIMEDOUT && !state->done && !state->idle_for(options.idle_timeout))
                continue;
            co_return;
        }
        if (*n == 0) co_return;  // the client's FIN
        decoder->feed(
            std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(chunk.data()), *n));
    }
}

}  // namespace

io::Task<void> run_udp_relay(io::Reactor* reactor, std::shared_ptr<UdpRelayStream> stream,
                             std::vector<std::uint8_t> initial, UdpRelayOptions options,
                             std::shared_ptr<UdpRelayStats> stats) {
    std::vector<std::uint8_t> head = std::move(initial);
    auto decoded = co_await read_request(stream.get(), &head, options.header_timeout);
    if (!decoded) {
        log::debug("[AnyTLS] UDP-over-TCP request: {}", decoded.error().text());
        co_await stream->finish();
        co_return;
    }
    const auto request = decoded->request;
    auto state = std::make_shared<RelayState>(*reactor);
    state->connect_mode = request.is_connect;
    state->stats = std::move(stats);
    state->touch();

    auto socket = io::UdpSocket::bind_any();
    if (!socket) {
        log::warn("[AnyTLS] UDP relay: cannot open a socket: {}", socket.error().text());
        co_await stream->finish();
        co_return;
    }
    state->socket = std::move(socket).value();
    if (request.is_connect) {
        auto destination = co_await resolve_for_socket(reactor, state, request.destination);
        Result<void> connected = destination ? state->socket.connect(destination.value())
                                             : Result<void>(std::move(destination).error());
        if (!connected) {
            log::debug("[AnyTLS] UDP relay to {}: {}", request.destination.to_string(),
                       connected.error().text());
            co_await stream->finish();
            co_return;
        }
    }
    log::debug("[AnyTLS] UDP relay ({} mode) to {}", request.is_connect ? "connect" : "per-packet",
               request.destination.to_string());

    proto::UdpOverTcpPacketDecoder decoder(request.is_connect);
    decoder.feed(std::span<const std::uint8_t>(head).subspan(decoded->consumed));
    head.clear();
    head.shrink_to_fit();

    reactor->spawn(relay_datagrams_to_client(reactor, state, stream, options));
    co_await relay_packets_to_target(reactor, state, stream.get(), &decoder, options);
    end_relay(*state);
    co_await stream->finish();
}

}  // namespace anytls::server
