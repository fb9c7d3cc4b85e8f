// UDP-over-TCP v2 (sing uot): the codec byte for byte, the streaming decoders cut at every
// byte, the server's relay against a scripted stream (bad header, idle timeout), and our
// client through our server over real TLS to UDP echo services on 127.0.0.1.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <string>

#include "base/errors.hpp"
#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "io/udp.hpp"
#include "proto/socks_address.hpp"
#include "proto/udp_over_tcp.hpp"
#include "server/server.hpp"
#include "server/udp_relay.hpp"
#include "session/client_session.hpp"
#include "io/stream_buffer.hpp"
#include "session/udp_stream.hpp"
#include "support/test_certs.hpp"
#include "support/test_server_config.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;

// A failed Result's text for an assertion message ("" on success: doctest -s evaluates
// messages of passing assertions too).
template <typename T>
std::string why(const Result<T>& result) {
    return result ? std::string() : result.error().text();
}

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }
Bytes concat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

proto::SocksAddress address(std::string_view host, std::uint16_t port) {
    auto a = proto::SocksAddress::from_host(host, port);
    REQUIRE(a);
    return a.value();
}

Bytes encode_request(bool connect, const proto::SocksAddress& destination) {
    Bytes out;
    auto r =
        proto::append_udp_over_tcp_request(out, proto::UdpOverTcpRequest{connect, destination});
    REQUIRE(r);
    return out;
}

Bytes encode_packet(bool connect, const proto::SocksAddress* a, const Bytes& payload) {
    Bytes out;
    auto r = proto::append_udp_over_tcp_packet(out, connect, a, payload);
    REQUIRE(r);
    return out;
}

struct DecodedPacket {
    std::optional<proto::SocksAddress> address;
    Bytes payload;
    bool operator==(const DecodedPacket&) const = default;
};

// Feeds `stream` to a decoder in the pieces `cuts` describes and collects every packet.
std::vector<DecodedPacket> decode_in_pieces(bool connect, const Bytes& stream,
                                            const std::vector<std::size_t>& cuts) {
    proto::UdpOverTcpPacketDecoder decoder(connect);
    std::vector<DecodedPacket> out;
    std::size_t from = 0;
    auto drain = [&] {
        while (true) {
            auto p = decoder.next();
            REQUIRE(p);
            if (!*p) break;
            out.push_back({(*p)->address, Bytes((*p)->payload.begin(), (*p)->payload.end())});
        }
    };
    for (std::size_t cut : cuts) {
        decoder.feed(std::span<const std::uint8_t>(stream).subspan(from, cut - from));
        drain();
        from = cut;
    }
    decoder.feed(std::span<const std::uint8_t>(stream).subspan(from));
    drain();
    CHECK(decoder.buffered() == 0);
    return out;
}

}  // namespace

TEST_SUITE("udp-over-tcp codec") {
    TEST_CASE("request header: isConnect, then the destination with SOCKS5 family bytes") {
        // sing uot/protocol.go EncodeRequest: bool, then M.SocksaddrSerializer (0x01/0x03/0x04).
        CHECK(encode_request(true, address("1.2.3.4", 53)) ==
              Bytes{0x01, 0x01, 1, 2, 3, 4, 0x00, 0x35});
        CHECK(encode_request(false, address("example.com", 443)) ==
              concat({{0x00, 0x03, 11}, bytes_of("example.com"), {0x01, 0xbb}}));
        CHECK(encode_request(false, address("2001:db8::1", 8080)) ==
              Bytes{0x00, 0x04, 0x20, 0x01, 0x0d, 0xb8, 0, 0,    0,    0,
                    0,    0,    0,    0,    0,    0,    0, 0x01, 0x1f, 0x90});
    }

    TEST_CASE("packets: u16 length + payload in connect mode; AddrParser address first otherwise") {
        const Bytes payload{0xaa, 0xbb};
        CHECK(encode_packet(true, nullptr, payload) == Bytes{0x00, 0x02, 0xaa, 0xbb});
        // Connect mode ignores an address, as sing's Conn.WritePacket does.
        auto v4 = address("1.2.3.4", 53);
        CHECK(encode_packet(true, &v4, payload) == Bytes{0x00, 0x02, 0xaa, 0xbb});
        // uot.AddrParser: 0x00 IPv4, 0x01 IPv6, 0x02 name.
        CHECK(encode_packet(false, &v4, payload) ==
              Bytes{0x00, 1, 2, 3, 4, 0x00, 0x35, 0x00, 0x02, 0xaa, 0xbb});
        auto v6 = address("::1", 5353);
        CHECK(encode_packet(false, &v6, {0x07}) == Bytes{0x01, 0,    0,    0,    0,    0,   0, 0,
                                                         0,    0,    0,    0,    0,    0,   0, 0,
                                                         1,    0x14, 0xe9, 0x00, 0x01, 0x07});
        auto name = address("a.b", 7);
        CHECK(encode_packet(false, &name, {}) ==
              Bytes{0x02, 3, 'a', '.', 'b', 0x00, 0x07, 0x00, 0x00});
        CHECK(proto::udp_over_tcp_address_size(name) == 7);
        CHECK(proto::udp_over_tcp_address_size(v4) == 7);
        CHECK(proto::udp_over_tcp_address_size(v6) == 19);
    }

    TEST_CASE("packet limits and misuse") {
        Bytes out;
        Bytes big(65536, 0x11);
        auto too_big = proto::append_udp_over_tcp_packet(out, true, nullptr, big);
        REQUIRE_FALSE(too_big);
        CHECK(too_big.code() == errc::invalid_argument);
        CHECK(out.empty());
        big.resize(65535);
        CHECK(proto::append_udp_over_tcp_packet(out, true, nullptr, big));
        CHECK(out.size() == 65537);
        CHECK(out[0] == 0xff);
        CHECK(out[1] == 0xff);
        Bytes none;
        CHECK(proto::append_udp_over_tcp_packet(none, false, nullptr, {}).code() ==
              errc::invalid_argument);
    }

    TEST_CASE(
        "request decoding: any non-zero isConnect is true; bad families and empty names fail") {
        Bytes header{0x02, 0x01, 10, 0, 0, 1, 0x00, 0x35, 0xee};  // plus one byte of packet data
        auto decoded = proto::decode_udp_over_tcp_request(header);
        REQUIRE(decoded);
        REQUIRE(decoded->status == proto::UdpOverTcpRequestDecode::Status::done);
        CHECK(decoded->request.is_connect);
        CHECK(decoded->request.destination == address("10.0.0.1", 53));
        CHECK(decoded->consumed == 8);

        // 0x00 is an AddrParser family, not a SOCKS5 one: the header must not accept it.
        CHECK(proto::decode_udp_over_tcp_request(Bytes{0x01, 0x00, 1, 2, 3, 4, 0, 1}).code() ==
              errc::protocol);
        CHECK(proto::decode_udp_over_tcp_request(Bytes{0x01, 0x03, 0x00, 0, 1}).code() ==
              errc::protocol);

        proto::UdpOverTcpPacketDecoder decoder(false);
        decoder.feed(Bytes{0x03, 1, 2, 3, 4, 0, 1, 0,
                           0});  // 0x03 is SOCKS5 "name", not an AddrParser family
        CHECK(decoder.next().code() == errc::protocol);
        proto::UdpOverTcpPacketDecoder empty_name(false);
        empty_name.feed(Bytes{0x02, 0x00, 0, 1, 0, 0});
        CHECK(empty_name.next().code() == errc::protocol);
    }

    TEST_CASE("a request header cut at every byte boundary decodes the same") {
        for (const auto& header : {encode_request(true, address("192.0.2.7", 9999)),
                                   encode_request(false, address("some.host.example", 1)),
                                   encode_request(true, address("2001:db8::7", 65535))}) {
            const Bytes tail{0x00, 0x01, 0x42};
            const Bytes input = concat({header, tail});
            auto full = proto::decode_udp_over_tcp_request(input);
            REQUIRE(full);
            REQUIRE(full->status == proto::UdpOverTcpRequestDecode::Status::done);
            CHECK(full->consumed == header.size());
            for (std::size_t k = 0; k < header.size(); ++k) {
                auto prefix = proto::decode_udp_over_tcp_request(
                    std::span<const std::uint8_t>(input).first(k));
                REQUIRE(prefix);
                CHECK(prefix->status == proto::UdpOverTcpRequestDecode::Status::need_more);
            }
            for (std::size_t k = header.size(); k <= input.size(); ++k) {
                auto longer = proto::decode_udp_over_tcp_request(
                    std::span<const std::uint8_t>(input).first(k));
                REQUIRE(longer);
                REQUIRE(longer->status == proto::UdpOverTcpRequestDecode::Status::done);
                CHECK(longer->request == full->request);
                CHECK(longer->consumed == header.size());
            }
        }
    }

    TEST_CASE("a packet stream cut at every byte boundary (and byte by byte) decodes the same") {
        std::mt19937_64 rng(3);
        for (bool connect : {true, false}) {
            std::vector<DecodedPacket> expected;
            Bytes stream;
            const proto::SocksAddress addresses[] = {address("127.0.0.1", 1), address("::1", 65535),
                                                     address("example.org", 53)};
            for (int i = 0; i < 6; ++i) {
                Bytes payload(i == 2 ? 0 : 1 + rng() % 300);
                for (auto& b : payload) b = static_cast<std::uint8_t>(rng());
                const auto& a = addresses[i % 3];
                auto encoded = encode_packet(connect, &a, payload);
                stream.insert(stream.end(), encoded.begin(), encoded.end());
                expected.push_back(
                    {connect ? std::nullopt : std::optional<proto::SocksAddress>(a), payload});
            }
            CHECK(decode_in_pieces(connect, stream, {}) == expected);
            for (std::size_t cut = 1; cut < stream.size(); ++cut) {
                CHECK(decode_in_pieces(connect, stream, {cut}) == expected);
            }
            std::vector<std::size_t> every;
            for (std::size_t i = 1; i < stream.size(); ++i) every.push_back(i);
            CHECK(decode_in_pieces(connect, stream, every) == expected);
        }
    }

}  // TEST_SUITE

namespace {

// --- a UDP echo service on the reactor --------------------------------------------------

struct UdpEcho {
    explicit UdpEcho(Reactor& r) : cancel(r) {}
    UdpSocket socket;
    CancellationSource cancel;
    std::uint16_t port = 0;
    std::uint64_t echoed = 0;
    bool stopped = false;
};

Task<void> udp_echo_loop(Reactor* r, UdpEcho* echo) {
    std::vector<std::byte> buffer(max_udp_payload);
    while (true) {
        auto receive = receive_datagram(*r, echo->socket.fd(), buffer, Duration{0}, &echo->cancel);
        auto got = co_await receive;
        if (!got) {
            if (got.code() == -ECANCELED) break;
            continue;
        }
        auto send = send_datagram(*r, echo->socket.fd(),
                                  std::span<const std::byte>(buffer.data(), got->size), got->source,
                                  5s, &echo->cancel);
        auto sent = co_await send;
        if (sent) ++echo->echoed;
    }
    echo->stopped = true;
}

void start_echo(Reactor& r, UdpEcho& echo,
                const SocketAddress& at = SocketAddress::loopback_v4(0)) {
    auto socket = UdpSocket::bind(at);
    REQUIRE_MESSAGE(socket, why(socket));
    echo.socket = std::move(socket).value();
    auto local = echo.socket.local_address();
    REQUIRE(local);
    echo.port = local->port();
    r.spawn(udp_echo_loop(&r, &echo));
}

// Cancels the echo loop and waits until its last receive has completed (its socket may close).
void stop_echo(Reactor& r, UdpEcho& echo) {
    echo.cancel.cancel();
    for (int i = 0; i < 10000 && !echo.stopped; ++i) r.run_once(true);
    CHECK(echo.stopped);
}

constexpr const char* password = "udp over tcp";

struct Environment {
    Environment() : echo1(reactor), echo2(reactor) {
        server::ServerConfig config = test::loopback_server_config("alice", password);
        config.connect_timeout = 5s;
        auto created = server::Server::create(reactor, std::move(config));
        REQUIRE_MESSAGE(created, why(created));
        server = std::move(created).value();
        auto started = server->start();
        REQUIRE_MESSAGE(started, why(started));
        start_echo(reactor, echo1);
        start_echo(reactor, echo2);
    }
    ~Environment() {
        server->stop();
        echo1.cancel.cancel();
        echo2.cancel.cancel();
        for (int i = 0; i < 10000 && reactor.live_tasks() > 0; ++i) reactor.run_once(true);
    }

    session::ClientConfig client_config() const {
        session::ClientConfig config;
        config.server_host = "127.0.0.1";
        config.server_port = server->local_address().port();
        config.password = password;
        config.ca_file = test::test_pki().ca_cert;
        config.synack_timeout = 5s;
        return config;
    }

    Reactor reactor;
    std::unique_ptr<server::Server> server;
    UdpEcho echo1;
    UdpEcho echo2;
    std::shared_ptr<session::PaddingState> padding = std::make_shared<session::PaddingState>();
};

Task<std::shared_ptr<session::ClientSession>> must_open_session(Environment* env) {
    auto session =
        co_await session::open_session(env->reactor, env->client_config(), env->padding, 1);
    REQUIRE_MESSAGE(session, why(session));
    co_return std::move(session).value();
}

std::vector<std::byte> random_payload(std::mt19937_64& rng, std::size_t n) {
    std::vector<std::byte> out(n);
    for (auto& b : out) b = std::byte{static_cast<unsigned char>(rng())};
    return out;
}

Bytes as_vector(const std::vector<std::byte>& b) {
    return Bytes(reinterpret_cast<const std::uint8_t*>(b.data()),
                 reinterpret_cast<const std::uint8_t*>(b.data()) + b.size());
}

Task<void> connect_mode_echo(Environment* env) {
    auto session = co_await must_open_session(env);
    for (int round = 0; round < 2; ++round) {  // the second round reuses the session
        auto udp =
            co_await session::open_udp_stream(session, "127.0.0.1", env->echo1.port, true, 5s);
        REQUIRE_MESSAGE(udp, why(udp));
        CHECK(udp->connect_mode());
        std::mt19937_64 rng(100 + round);
        for (int i = 0; i < 100; ++i) {
            auto payload = random_payload(rng, 1 + rng() % 1400);
            auto sent = co_await udp->send(payload, 5s);
            REQUIRE_MESSAGE(sent, why(sent));
            auto reply = co_await udp->receive(5s);
            REQUIRE_MESSAGE(reply, why(reply));
            CHECK(reply->payload == as_vector(payload));
            CHECK(reply->source == address("127.0.0.1", env->echo1.port));
        }
        // A burst: 20 datagrams in flight at once come back (loopback keeps them in order).
        std::vector<Bytes> burst;
        for (int i = 0; i < 20; ++i) {
            auto payload = random_payload(rng, 1 + rng() % 1400);
            burst.push_back(as_vector(payload));
            auto sent = co_await udp->send(payload, 5s);
            REQUIRE(sent);
        }
        for (int i = 0; i < 20; ++i) {
            auto reply = co_await udp->receive(5s);
            REQUIRE_MESSAGE(reply, why(reply));
            CHECK(reply->payload == burst[i]);
        }
        // Nothing more: a receive times out and the stream stays usable.
        auto quiet = co_await udp->receive(100ms);
        CHECK(quiet.code() == -ETIMEDOUT);
        auto ten = random_payload(rng, 10);
        auto sent_anywhere = co_await udp->send_to(ten, address("127.0.0.1", 9), 5s);
        CHECK(sent_anywhere);
        auto ignored_address = co_await udp->receive(5s);  // connect mode: the address was ignored
        REQUIRE_MESSAGE(ignored_address, why(ignored_address));
        CHECK(ignored_address->payload.size() == 10);
        auto closed = co_await udp->close();
        CHECK(closed);
        CHECK(session->state() == session::SessionState::idle);
    }
    session->close();
}

Task<void> per_packet_echo(Environment* env) {
    auto session = co_await must_open_session(env);
    auto udp = co_await session::open_udp_stream(session, "127.0.0.1", env->echo1.port, false, 5s);
    REQUIRE_MESSAGE(udp, why(udp));
    CHECK_FALSE(udp->connect_mode());
    std::mt19937_64 rng(7);
    auto misuse = co_await udp->send(random_payload(rng, 5), 5s);
    CHECK(misuse.code() == errc::invalid_argument);
    const std::uint16_t ports[] = {env->echo1.port, env->echo2.port};
    for (int i = 0; i < 60; ++i) {
        const std::uint16_t port = ports[(i / 3) % 2];
        auto payload = random_payload(rng, 1 + rng() % 1400);
        auto sent = co_await udp->send_to(payload, address("127.0.0.1", port), 5s);
        REQUIRE_MESSAGE(sent, why(sent));
        auto reply = co_await udp->receive(5s);
        REQUIRE_MESSAGE(reply, why(reply));
        CHECK(reply->payload == as_vector(payload));
        CHECK(reply->source == address("127.0.0.1", port));
    }
    // Interleaved: one to each port, then both replies, each tagged with its own source.
    auto a = random_payload(rng, 300);
    auto b = random_payload(rng, 301);
    auto sent_a = co_await udp->send_to(a, address("127.0.0.1", ports[0]), 5s);
    REQUIRE(sent_a);
    auto sent_b = co_await udp->send_to(b, address("127.0.0.1", ports[1]), 5s);
    REQUIRE(sent_b);
    int matched = 0;
    for (int i = 0; i < 2; ++i) {
        auto reply = co_await udp->receive(5s);
        REQUIRE_MESSAGE(reply, why(reply));
        if (reply->source == address("127.0.0.1", ports[0]) && reply->payload == as_vector(a))
            ++matched;
        if (reply->source == address("127.0.0.1", ports[1]) && reply->payload == as_vector(b))
            ++matched;
    }
    CHECK(matched == 2);
    auto closed = co_await udp->close();
    CHECK(closed);
    session->close();
}

Task<void> name_destination(Environment* env, UdpEcho* echo) {
    auto session = co_await must_open_session(env);
    auto udp = co_await session::open_udp_stream(session, "localhost", echo->port, true, 5s);
    REQUIRE_MESSAGE(udp, why(udp));
    std::mt19937_64 rng(9);
    auto payload = random_payload(rng, 512);
    auto sent = co_await udp->send(payload, 5s);
    REQUIRE(sent);
    auto reply = co_await udp->receive(5s);
    REQUIRE_MESSAGE(reply, why(reply));
    CHECK(reply->payload == as_vector(payload));
    auto closed = co_await udp->close();
    CHECK(closed);
    session->close();
}

// --- the relay against a scripted stream ------------------------------------------------

struct ScriptedStream final : server::UdpRelayStream {
    explicit ScriptedStream(Reactor& r) : input(r, 1 << 20) {}
    io::StreamBuffer input;
    Bytes written;
    int finishes = 0;
    TimePoint finished_at{};

    Task<Result<std::size_t>> read(std::span<std::byte> buffer, Duration timeout) override {
        auto n = co_await input.read(buffer, timeout);
        co_return n;
    }
    Task<Result<void>> write(std::vector<std::uint8_t> bytes) override {
        written.insert(written.end(), bytes.begin(), bytes.end());
        co_return Result<void>{};
    }
    Task<void> finish() override {
        if (finishes++ == 0) finished_at = SteadyClock::instance().now();
        input.close_consumer();
        co_return;
    }
};

Task<void> run_relay(Reactor* r, std::shared_ptr<ScriptedStream> stream, Bytes initial,
                     server::UdpRelayOptions options, bool* done) {
    co_await server::run_udp_relay(r, stream, std::move(initial), options);
    *done = true;
}

Task<void> wait_until(Reactor* r, bool* flag, Duration limit) {
    const auto deadline = Deadline::after(limit);
    while (!*flag && !deadline.expired()) {
        auto pause = sleep_for(*r, 5ms);
        co_await pause;
    }
}

}  // namespace

TEST_SUITE("session") {
    TEST_CASE("UDP-over-TCP connect mode: 100 datagrams of 1..1400 bytes echo through our server") {
        Environment env;
        sync_wait(env.reactor, connect_mode_echo(&env));
        CHECK(env.echo1.echoed == 2 * (100 + 20 + 1));
    }

    TEST_CASE(
        "UDP-over-TCP per-packet mode: two echo ports, replies carry their source addresses") {
        Environment env;
        sync_wait(env.reactor, per_packet_echo(&env));
        CHECK(env.echo1.echoed + env.echo2.echoed == 62);
        CHECK(env.echo1.echoed > 0);
        CHECK(env.echo2.echoed > 0);
    }

    TEST_CASE("UDP-over-TCP: a destination name is resolved by the server") {
        Environment env;
        auto resolved = sync_wait(env.reactor, resolve(env.reactor, "localhost", 0));
        REQUIRE_MESSAGE(resolved, why(resolved));
        // The relay takes the first address the resolver gives; the echo listens there.
        auto first = SocketAddress::parse_numeric(resolved->front().host_string(), 0);
        REQUIRE(first);
        auto socket = UdpSocket::bind(first.value());
        if (!socket) {
            MESSAGE("cannot bind " << first->to_string() << ": " << socket.error().text()
                                   << "; skipped");
            return;
        }
        socket->close();
        UdpEcho echo(env.reactor);
        start_echo(env.reactor, echo, first.value());
        sync_wait(env.reactor, name_destination(&env, &echo));
        CHECK(echo.echoed == 1);
        stop_echo(env.reactor, echo);
    }

    TEST_CASE("the relay ends a stream whose header is malformed, without writing") {
        Reactor r;
        auto stream = std::make_shared<ScriptedStream>(r);
        bool done = false;
        // 0x00 is not a SOCKS5 family: the header is rejected.
        r.spawn(run_relay(&r, stream, Bytes{0x01, 0x00, 127, 0, 0, 1, 0, 53}, {}, &done));
        sync_wait(r, wait_until(&r, &done, 5s));
        CHECK(done);
        CHECK(stream->finishes >= 1);
        CHECK(stream->written.empty());
    }

    TEST_CASE("the relay ends an idle stream with FIN after its idle timeout") {
        Reactor r;
        UdpEcho echo(r);
        start_echo(r, echo);
        auto stream = std::make_shared<ScriptedStream>(r);
        server::UdpRelayOptions options;
        options.idle_timeout = 300ms;
        bool done = false;
        // Header and one packet arrive with the address PSH; the echo answers once, then silence.
        Bytes initial = concat(
            {encode_request(true, address("127.0.0.1", echo.port)), {0x00, 0x03, 'a', 'b', 'c'}});
        const auto started = SteadyClock::instance().now();
        r.spawn(run_relay(&r, stream, initial, options, &done));
        sync_wait(r, wait_until(&r, &done, 5s));
        CHECK(done);
        CHECK(stream->finishes >= 1);
        CHECK(stream->written == Bytes{0x00, 0x03, 'a', 'b', 'c'});
        const auto elapsed = stream->finished_at - started;
        CHECK(elapsed >= 250ms);
        CHECK(elapsed < 3s);
        stop_echo(r, echo);
        for (int i = 0; i < 1000 && r.live_tasks() > 0; ++i) r.run_once(true);
    }

}  // TEST_SUITE
