// Client sessions against our own server over real TLS on 127.0.0.1 (the test PKI from
// tests/support/test_certs.cpp), with real TCP targets on 127.0.0.1: an echo service, a
// "blaster" that sends 16 MiB and closes, and a closed port.
#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "base/errors.hpp"
#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "proto/auth_preamble.hpp"
#include "proto/digest.hpp"
#include "proto/frame.hpp"
#include "proto/frame_decoder.hpp"
#include "server/server.hpp"
#include "session/client_session.hpp"
#include "support/test_certs.hpp"
#include "support/test_server_config.hpp"
#include "support/test_tls_client.hpp"
#include "tls/tls_connection.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t blaster_total = 16 * 1024 * 1024;

// A deterministic byte at offset i of the blaster's stream.
std::uint8_t blaster_byte(std::size_t i) {
    return static_cast<std::uint8_t>((i * 131 + (i >> 12)) & 0xff);
}

// A TCP service on 127.0.0.1 with its own accept loop.
struct TcpService {
    explicit TcpService(Reactor& r) : cancel(r) {}
    TcpListener listener;
    CancellationSource cancel;
    std::uint16_t port = 0;
};

Task<void> echo_connection(Reactor* r, Socket socket) {
    std::vector<std::byte> buffer(64 * 1024);
    while (true) {
        auto receive = recv(*r, socket.fd(), buffer.data(), buffer.size());
        auto n = co_await receive;
        if (!n || *n == 0) break;
        auto sent =
            co_await send_all(*r, socket.fd(), std::span<const std::byte>(buffer.data(), *n), 10s);
        if (!sent) break;
    }
}

Task<void> blaster_connection(Reactor* r, Socket socket) {
    std::vector<std::byte> buffer(256 * 1024);
    for (std::size_t sent = 0; sent < blaster_total;) {
        const std::size_t n = std::min(buffer.size(), blaster_total - sent);
        for (std::size_t i = 0; i < n; ++i) buffer[i] = std::byte{blaster_byte(sent + i)};
        auto written =
            co_await send_all(*r, socket.fd(), std::span<const std::byte>(buffer.data(), n), 30s);
        if (!written) co_return;
        sent += n;
    }
    socket.shutdown(SHUT_WR);
    // Wait for the peer to close before closing (so the tail is not lost to a reset).
    std::byte sink[256];
    while (true) {
        auto receive = recv(*r, socket.fd(), sink, sizeof(sink), 30s);
        auto n = co_await receive;
        if (!n || *n == 0) break;
    }
}

Task<void> accept_loop(Reactor* r, TcpService* service, bool blaster) {
    while (true) {
        auto accept = service->listener.accept(*r, &service->cancel);
        auto socket = co_await accept;
        if (!socket) break;
        if (blaster) {
            r->spawn(blaster_connection(r, std::move(socket).value()));
        } else {
            r->spawn(echo_connection(r, std::move(socket).value()));
        }
    }
}

// A target that drains slowly but steadily: 16 KiB every 5 ms (about 3 MB/s), never writing.
// Cancelling `cancel` ends it (with what it has not read yet).
Task<void> trickle_connection(Reactor* r, Socket socket, CancellationSource* cancel) {
    std::vector<std::byte> buffer(16 * 1024);
    while (true) {
        auto receive =
            recv(*r, socket.fd(), buffer.data(), buffer.size(), Duration::zero(), cancel);
        auto n = co_await receive;
        if (!n || *n == 0) break;
        (void)co_await sleep_for(*r, 5ms);
    }
}

Task<void> trickle_accept_loop(Reactor* r, TcpService* service, bool* ended) {
    while (true) {
        auto accept = service->listener.accept(*r, &service->cancel);
        auto socket = co_await accept;
        if (!socket) break;
        r->spawn(trickle_connection(r, std::move(socket).value(), &service->cancel));
    }
    *ended = true;
}

void start_service(Reactor& r, TcpService& service, bool blaster) {
    auto listener = TcpListener::listen(SocketAddress::loopback_v4(0));
    REQUIRE(listener);
    service.listener = std::move(listener).value();
    service.port = service.listener.address().port();
    r.spawn(accept_loop(&r, &service, blaster));
}

// A port on 127.0.0.1 with nobody listening.
std::uint16_t closed_port() {
    auto listener = TcpListener::listen(SocketAddress::loopback_v4(0));
    REQUIRE(listener);
    std::uint16_t port = listener->address().port();
    listener->close();
    return port;
}

constexpr const char* password = "correct horse battery staple";

server::ServerConfig server_config() {
    server::ServerConfig config = test::loopback_server_config("alice", password);
    config.users.push_back({"bob", "another one"});
    config.connect_timeout = 5s;
    return config;
}

// Everything one test needs: a server, an echo target and a blaster on one reactor.
struct Environment {
    explicit Environment(server::ServerConfig config = server_config())
        : echo(reactor), blaster(reactor) {
        auto created = server::Server::create(reactor, std::move(config));
        REQUIRE_MESSAGE(created, created.error().text());
        server = std::move(created).value();
        auto started = server->start();
        REQUIRE_MESSAGE(started, started.error().text());
        start_service(reactor, echo, false);
        start_service(reactor, blaster, true);
    }
    ~Environment() {
        server->stop();
        echo.cancel.cancel();
        blaster.cancel.cancel();
        for (int i = 0; i < 10000 && reactor.live_tasks() > 0; ++i) reactor.run_once(true);
        echo.listener.close();
        blaster.listener.close();
    }

    session::ClientConfig client_config(std::string pw = password) const {
        session::ClientConfig config;
        config.server_host = "127.0.0.1";
        config.server_port = server->local_address().port();
        config.password = std::move(pw);
        config.ca_file = test::test_pki().ca_cert;
        config.synack_timeout = 5s;
        return config;
    }

    Reactor reactor;
    std::unique_ptr<server::Server> server;
    TcpService echo;
    TcpService blaster;
    std::shared_ptr<session::PaddingState> padding = std::make_shared<session::PaddingState>();
};

std::vector<std::byte> random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::vector<std::byte> out(n);
    for (auto& b : out) b = std::byte{static_cast<unsigned char>(rng())};
    return out;
}

// Reads exactly `n` bytes (or fails the test).
Task<std::vector<std::byte>> read_exactly(session::ClientStream* stream, std::size_t n) {
    std::vector<std::byte> out(n);
    std::size_t got = 0;
    while (got < n) {
        auto r = co_await stream->read(std::span<std::byte>(out).subspan(got), 10s);
        REQUIRE_MESSAGE(r, r.error().text());
        REQUIRE(*r > 0);
        got += *r;
    }
    co_return out;
}

Task<void> echo_round_trip(session::ClientStream* stream, std::mt19937_64* rng, std::size_t size) {
    auto data = random_bytes(*rng, size);
    auto written = co_await stream->write(data, 10s);
    REQUIRE_MESSAGE(written, written.error().text());
    auto back = co_await read_exactly(stream, size);
    CHECK(back == data);
}

Task<std::shared_ptr<session::ClientSession>> must_open_session(Environment* env, std::uint64_t seq,
                                                                std::string pw = password) {
    auto session =
        co_await session::open_session(env->reactor, env->client_config(pw), env->padding, seq);
    REQUIRE_MESSAGE(session, session.error().text());
    co_return std::move(session).value();
}

// --- test bodies (coroutines; no capturing lambdas) -------------------------------------

Task<void> sequential_streams(Environment* env) {
    auto session = co_await must_open_session(env, 1);
    std::mt19937_64 rng(42);
    std::uint32_t previous_id = 0;
    for (int i = 0; i < 200; ++i) {
        auto stream = co_await session->open_stream("127.0.0.1", env->echo.port, 5s);
        REQUIRE_MESSAGE(stream, stream.error().text());
        CHECK(stream->id() > previous_id);
        previous_id = stream->id();
        CHECK(session->state() == session::SessionState::busy);
        co_await echo_round_trip(&stream.value(), &rng, 1 + rng() % 20000);
        auto closed = co_await stream->close();
        CHECK(closed);
        CHECK(session->state() == session::SessionState::idle);
        CHECK(env->server->session_count() == 1);
    }
    CHECK(previous_id == 200);
    CHECK(session->peer_version() == 2);
    session->close();
}

struct Concurrent {
    int opened = 0;
    int finished = 0;
    std::size_t max_server_sessions = 0;
};

Task<void> one_concurrent_stream(Environment* env, Concurrent* state, int index) {
    auto session = co_await must_open_session(env, index + 1);
    auto stream = co_await session->open_stream("localhost", env->echo.port, 5s);
    REQUIRE_MESSAGE(stream, stream.error().text());
    ++state->opened;
    while (state->opened < 20) {
        auto pause = sleep_for(env->reactor, 5ms);
        co_await pause;
    }
    state->max_server_sessions = std::max(state->max_server_sessions, env->server->session_count());
    std::mt19937_64 rng(1000 + index);
    // 300 KiB in one write: more than one PSH frame (65535) and more than one padded write.
    co_await echo_round_trip(&stream.value(), &rng, 300 * 1024 + index);
    auto closed = co_await stream->close();
    CHECK(closed);
    session->close();
    ++state->finished;
}

Task<void> wait_for(Reactor* r, int* counter, int target) {
    for (int i = 0; i < 3000 && *counter < target; ++i) {
        auto pause = sleep_for(*r, 10ms);
        co_await pause;
    }
}

Task<void> refused_target(Environment* env) {
    auto session = co_await must_open_session(env, 1);
    // The open does not wait for the SYNACK: the refusal reaches the stream behind it.
    auto stream = co_await session->open_stream("127.0.0.1", closed_port(), 5s);
    REQUIRE_MESSAGE(stream, stream.error().text());
    auto connected = co_await stream->wait_connected(5s);
    REQUIRE_FALSE(connected);
    CHECK(connected.error().code == errc::target_refused);
    CHECK_FALSE(connected.error().message.empty());
    MESSAGE("server's SYNACK text: " << connected.error().message);
    std::byte buffer[16];
    auto n = co_await stream->read(buffer, 5s);
    REQUIRE_FALSE(n);
    CHECK(n.code() == errc::target_refused);
    CHECK(n.error().message == connected.error().message);
    auto written = co_await stream->write(std::as_bytes(std::span(buffer)), 5s);
    REQUIRE_FALSE(written);
    CHECK(written.code() == errc::target_refused);
    // The target's failure is not the session's: once the stream is closed it is reusable.
    auto closed_refused = co_await stream->close();
    CHECK(closed_refused);
    CHECK(session->state() == session::SessionState::idle);
    auto next = co_await session->open_stream("127.0.0.1", env->echo.port, 5s);
    REQUIRE_MESSAGE(next, next.error().text());
    std::mt19937_64 rng(7);
    co_await echo_round_trip(&next.value(), &rng, 1000);
    auto closed = co_await next->close();
    CHECK(closed);
    session->close();
}

Task<void> immediate_synack(Environment* env) {
    auto session = co_await must_open_session(env, 1);
    auto stream = co_await session->open_stream("127.0.0.1", closed_port(), 5s);
    REQUIRE_MESSAGE(stream, stream.error().text());  // SYNACK came before the dial
    std::byte buffer[16];
    auto n = co_await stream->read(buffer, 5s);
    REQUIRE_MESSAGE(n, n.error().text());
    CHECK(*n == 0);  // the server's FIN after the failed dial
    auto closed = co_await stream->close();
    CHECK(closed);
    auto next = co_await session->open_stream("127.0.0.1", env->echo.port, 5s);
    REQUIRE_MESSAGE(next, next.error().text());
    std::mt19937_64 rng(11);
    co_await echo_round_trip(&next.value(), &rng, 70000);
    closed = co_await next->close();
    CHECK(closed);
    session->close();
}

Task<void> wrong_password(Environment* env) {
    auto session =
        co_await session::open_session(env->reactor, env->client_config("wrong"), env->padding, 1);
    if (!session) {
        CHECK((session.error().code == errc::closed || session.error().code == -ECONNRESET ||
               session.error().code == -EPIPE));
        co_return;
    }
    // The open may be queued before the server's verdict arrives; the stream then fails.
    auto stream = co_await session.value()->open_stream("127.0.0.1", env->echo.port, 5s);
    Error error = make_error(0, "");
    if (stream) {
        auto connected = co_await stream->wait_connected(5s);
        REQUIRE_FALSE(connected);
        error = connected.error();
    } else {
        error = stream.error();
    }
    MESSAGE("wrong password: " << error.text());
    // The protocol has no answer to a wrong password; the session names the inference.
    CHECK(error.code == errc::auth_failed);
    CHECK(error.text().find("wrong password?") != std::string::npos);
    CHECK(session.value()->closed());
}

constexpr const char* custom_scheme =
    "stop=5\n0=20-20\n1=200-300\n2=100-200,c,300-400\n3=50-60\n4=10-20";

Task<void> padding_push(Environment* env, std::string* first_md5, std::string* second_md5) {
    for (int i = 0; i < 2; ++i) {
        auto session = co_await must_open_session(env, i + 1);
        auto stream = co_await session->open_stream("127.0.0.1", env->echo.port, 5s);
        REQUIRE_MESSAGE(stream, stream.error().text());
        std::mt19937_64 rng(i);
        co_await echo_round_trip(&stream.value(), &rng, 5000);
        auto closed = co_await stream->close();
        CHECK(closed);
        (i == 0 ? *first_md5 : *second_md5) = session->sent_padding_md5();
        session->close();
    }
}

// Writes a preamble and a SYN with no Settings, then collects the frames the server sends.
Task<void> syn_before_settings(Environment* env, std::vector<proto::Frame>* frames, bool* ended) {
    auto socket = co_await tcp_connect(
        env->reactor, SocketAddress::loopback_v4(env->server->local_address().port()), 5s);
    REQUIRE(socket);
    auto connection = co_await test::handshake_trusting_test_ca(
        env->reactor, std::move(socket).value(), "127.0.0.1");
    REQUIRE_MESSAGE(connection, connection.error().text());
    auto hash = proto::hash_password(password);
    REQUIRE(hash);
    auto bytes = proto::build_auth_preamble(hash.value(), 30);
    proto::append_frame_header(bytes, proto::Command::syn, 1, 0);
    auto written =
        co_await connection.value()->write(std::as_bytes(std::span<const std::uint8_t>(bytes)), 5s);
    REQUIRE(written);
    proto::FrameDecoder decoder;
    std::vector<std::byte> buffer(4096);
    while (true) {
        auto n = co_await connection.value()->read(buffer, 5s);
        if (!n || *n == 0) {
            *ended = true;
            break;
        }
        std::span<const std::uint8_t> input(reinterpret_cast<const std::uint8_t*>(buffer.data()),
                                            *n);
        while (auto frame = decoder.next(input)) frames->push_back(frame->copy());
    }
}

// A client with the wrong password talks to the fallback (the echo service) through TLS:
// every byte it sent, preamble included, comes back.
Task<void> fallback_echo(Environment* env, bool* echoed) {
    auto socket = co_await tcp_connect(
        env->reactor, SocketAddress::loopback_v4(env->server->local_address().port()), 5s);
    REQUIRE(socket);
    auto connection = co_await test::handshake_trusting_test_ca(
        env->reactor, std::move(socket).value(), "localhost");
    REQUIRE_MESSAGE(connection, connection.error().text());
    std::string request = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\nsome more bytes to pass 34";
    auto written =
        co_await connection.value()->write(std::as_bytes(std::span<const char>(request)), 5s);
    REQUIRE(written);
    std::string back;
    std::vector<std::byte> buffer(4096);
    while (back.size() < request.size()) {
        auto n = co_await connection.value()->read(buffer, 5s);
        REQUIRE_MESSAGE(n, n.error().text() << " after " << back.size() << " bytes");
        REQUIRE(*n > 0);
        back.append(reinterpret_cast<const char*>(buffer.data()), *n);
    }
    *echoed = back == request;
    auto closed = co_await connection.value()->close();
    (void)closed;
}

Task<void> heartbeat(Environment* env) {
    auto session = co_await must_open_session(env, 1);
    auto early = co_await session->ping(1s);
    CHECK(early.code() == errc::invalid_argument);  // peer version unknown before a stream
    auto stream = co_await session->open_stream("127.0.0.1", env->echo.port, 5s);
    REQUIRE_MESSAGE(stream, stream.error().text());
    // The peer's version is known once its ServerSettings came, which precede the SYNACK.
    auto connected = co_await stream->wait_connected(5s);
    REQUIRE_MESSAGE(connected, connected.error().text());
    auto closed = co_await stream->close();
    CHECK(closed);
    for (int i = 0; i < 3; ++i) {
        auto pong = co_await session->ping(2s);
        CHECK_MESSAGE(pong, pong.code());
    }
    CHECK(session->heart_responses() == 3);
    CHECK(session->state() == session::SessionState::idle);
    session->close();
}

Task<void> backpressure(Environment* env, std::size_t* max_buffered, std::size_t* limit) {
    auto session = co_await must_open_session(env, 1);
    auto stream = co_await session->open_stream("127.0.0.1", env->blaster.port, 5s);
    REQUIRE_MESSAGE(stream, stream.error().text());
    *limit = io::default_stream_buffer_limit + proto::max_frame_data;
    // Read nothing for a while: the server keeps sending, the client must stop buffering.
    for (int i = 0; i < 20; ++i) {
        auto pause = sleep_for(env->reactor, 50ms);
        co_await pause;
        *max_buffered = std::max(*max_buffered, stream->buffered());
    }
    CHECK(stream->buffered() > 0);
    std::vector<std::byte> buffer(100 * 1000);
    std::size_t total = 0;
    bool equal = true;
    while (true) {
        *max_buffered = std::max(*max_buffered, stream->buffered());
        auto n = co_await stream->read(buffer, 10s);
        REQUIRE_MESSAGE(n, n.error().text());
        if (*n == 0) break;
        for (std::size_t i = 0; i < *n; ++i)
            equal = equal && buffer[i] == std::byte{blaster_byte(total + i)};
        total += *n;
    }
    CHECK(total == blaster_total);
    CHECK(equal);
    auto closed = co_await stream->close();
    CHECK(closed);
    session->close();
}

Task<void> read_timeout(Environment* env) {
    auto session = co_await must_open_session(env, 1);
    auto stream = co_await session->open_stream("127.0.0.1", env->echo.port, 5s);
    REQUIRE_MESSAGE(stream, stream.error().text());
    std::byte buffer[64];
    const auto started = SteadyClock::instance().now();
    auto n = co_await stream->read(buffer, 200ms);
    const auto elapsed = SteadyClock::instance().now() - started;
    REQUIRE_FALSE(n);
    CHECK(n.error().code == -ETIMEDOUT);
    CHECK(elapsed >= 150ms);
    CHECK(elapsed < 2s);
    // A timed-out read leaves the stream usable.
    std::mt19937_64 rng(3);
    co_await echo_round_trip(&stream.value(), &rng, 64);
    auto closed = co_await stream->close();
    CHECK(closed);
    session->close();
}

// A write's timeout bounds the whole call: 32 MiB to a target that drains about 3 MB/s (each
// batch of frames does make progress) ends with -ETIMEDOUT near the timeout, not after ~10 s.
Task<void> write_deadline(Environment* env, TcpService* trickle) {
    auto session = co_await must_open_session(env, 1);
    auto stream = co_await session->open_stream("127.0.0.1", trickle->port, 5s);
    REQUIRE_MESSAGE(stream, stream.error().text());
    std::vector<std::byte> data(32 * 1024 * 1024, std::byte{0x5a});
    const auto started = SteadyClock::instance().now();
    auto written = co_await stream->write(data, 1s);
    const auto elapsed = SteadyClock::instance().now() - started;
    REQUIRE_FALSE(written);
    CHECK(written.error().code == -ETIMEDOUT);
    CHECK(elapsed >= 900ms);
    CHECK(elapsed < 4s);
    session->close();
}

// A hand-written server: reads the preamble and the first stream's frames, sends a
// HeartRequest on stream 5, waits for the HeartResponse, then sends an Alert.
struct FakeServerResult {
    bool saw_settings = false;
    bool saw_syn = false;
    std::uint32_t heart_response_stream = 0;
    std::string error;
};

Task<void> fake_server(Reactor* r, TcpListener* listener, FakeServerResult* out) {
    auto accept = listener->accept(*r);
    auto socket = co_await accept;
    if (!socket) co_return;
    tls::ServerContextOptions options;
    options.certificate_file = test::test_pki().server_cert;
    options.private_key_file = test::test_pki().server_key;
    auto context = tls::TlsContext::make_server(options);
    if (!context) co_return;
    auto accepted =
        co_await tls::TlsConnection::accept(*r, std::move(socket).value(), context.value(), {});
    if (!accepted) {
        out->error = accepted.error().text();
        co_return;
    }
    auto connection = std::move(accepted).value();
    proto::AuthPreambleParser parser;
    proto::FrameDecoder decoder;
    std::vector<std::byte> buffer(64 * 1024);
    bool heart_sent = false;
    while (true) {
        auto n = co_await connection->read(buffer, 5s);
        if (!n || *n == 0) break;
        std::span<const std::uint8_t> input(reinterpret_cast<const std::uint8_t*>(buffer.data()),
                                            *n);
        if (!parser.done()) {
            auto progress = parser.feed(input);
            if (!progress || progress->status != proto::AuthPreambleParser::Status::done) continue;
            input = progress->rest;
        }
        std::vector<std::uint8_t> reply;
        while (auto frame = decoder.next(input)) {
            if (frame->command == proto::Command::settings) out->saw_settings = true;
            if (frame->command == proto::Command::syn) out->saw_syn = true;
            if (frame->command == proto::Command::psh && !heart_sent) {
                proto::append_frame_header(reply, proto::Command::heart_request, 5, 0);
                heart_sent = true;
            }
            if (frame->command == proto::Command::heart_response) {
                out->heart_response_stream = frame->stream_id;
                auto appended = proto::append_frame(reply, proto::Command::alert, 0,
                                                    std::string_view("go away"));
                (void)appended;
            }
        }
        if (!reply.empty()) {
            auto written =
                co_await connection->write(std::as_bytes(std::span<const std::uint8_t>(reply)), 5s);
            if (!written) break;
        }
    }
}

Task<void> client_of_fake_server(Reactor* r, std::uint16_t port, Error* stream_error,
                                 Error* session_error) {
    session::ClientConfig config;
    config.server_host = "127.0.0.1";
    config.server_port = port;
    config.password = password;
    config.ca_file = test::test_pki().ca_cert;
    config.synack_timeout = 300ms;  // this server is "v1": no ServerSettings, no SYNACK
    auto session =
        co_await session::open_session(*r, config, std::make_shared<session::PaddingState>(), 1);
    REQUIRE_MESSAGE(session, session.error().text());
    auto stream = co_await session.value()->open_stream("example.com", 80, 5s);
    if (!stream) {
        // The Alert may arrive while open_stream still waits for a SYNACK.
        *stream_error = stream.error();
    } else {
        std::byte byte[1];
        auto n = co_await stream->read(byte, 5s);
        REQUIRE_FALSE(n);
        *stream_error = n.error();
    }
    REQUIRE(session.value()->close_reason());
    *session_error = *session.value()->close_reason();
}

}  // namespace

TEST_SUITE("session") {
    TEST_CASE("prepare_client_config builds the TLS context and hashes the password once") {
        session::ClientConfig config;
        config.password = "secret";
        config.skip_verify = true;
        REQUIRE(session::prepare_client_config(config).ok());
        REQUIRE(config.tls_context != nullptr);
        REQUIRE(config.password_hash.has_value());
        auto expected = proto::hash_password("secret");
        REQUIRE(expected.ok());
        CHECK(*config.password_hash == expected.value());
        // Idempotent: what is already there is kept, not rebuilt (the hash is not recomputed).
        const auto context = config.tls_context;
        config.password = "changed";
        REQUIRE(session::prepare_client_config(config).ok());
        CHECK(config.tls_context == context);
        CHECK(*config.password_hash == expected.value());
        // A CA file that cannot be read is the context's error.
        session::ClientConfig bad;
        bad.password = "p";
        bad.ca_file = "/nonexistent/ca.pem";
        CHECK_FALSE(session::prepare_client_config(bad).ok());
    }

    TEST_CASE("the client answers a HeartRequest on the same stream id and closes on an Alert") {
        Reactor r;
        auto listener = TcpListener::listen(SocketAddress::loopback_v4(0));
        REQUIRE(listener);
        FakeServerResult server_result;
        r.spawn(fake_server(&r, &listener.value(), &server_result));
        Error stream_error, session_error;
        sync_wait(r, client_of_fake_server(&r, listener->address().port(), &stream_error,
                                           &session_error));
        for (int i = 0; i < 10000 && r.live_tasks() > 0; ++i) r.run_once(true);
        CHECK(server_result.error.empty());
        CHECK(server_result.saw_settings);
        CHECK(server_result.saw_syn);
        CHECK(server_result.heart_response_stream == 5);
        CHECK(stream_error.code == errc::server_alert);
        CHECK(session_error.code == errc::server_alert);
        CHECK(session_error.message.find("go away") != std::string::npos);
    }

    TEST_CASE("200 streams one after another reuse one session, with increasing stream ids") {
        Environment env;
        sync_wait(env.reactor, sequential_streams(&env));
        CHECK(env.server->stats().sessions_authenticated == 1);
        CHECK(env.server->stats().streams_opened == 200);
    }

    TEST_CASE("20 streams at once on 20 sessions echo 300 KiB each, byte for byte") {
        Environment env;
        Concurrent state;
        for (int i = 0; i < 20; ++i) env.reactor.spawn(one_concurrent_stream(&env, &state, i));
        sync_wait(env.reactor, wait_for(&env.reactor, &state.finished, 20));
        CHECK(state.finished == 20);
        CHECK(state.max_server_sessions == 20);
        CHECK(env.server->stats().sessions_authenticated == 20);
    }

    TEST_CASE("a refused target surfaces as target_refused with the server's text") {
        Environment env;
        sync_wait(env.reactor, refused_target(&env));
    }

    TEST_CASE("synack=immediate: the stream opens before the dial; a refused target just ends it") {
        auto config = server_config();
        config.synack = server::SynAckMode::immediate;
        Environment env(config);
        sync_wait(env.reactor, immediate_synack(&env));
    }

    TEST_CASE("a wrong password fails the session cleanly") {
        Environment env;
        sync_wait(env.reactor, wrong_password(&env));
        CHECK(env.server->stats().auth_failures == 1);
        CHECK(env.server->session_count() == 0);
    }

    TEST_CASE("a padding scheme pushed by the server is adopted client-wide") {
        auto config = server_config();
        config.padding_scheme = custom_scheme;
        Environment env(config);
        const std::string default_md5 = env.padding->current()->md5_hex();
        std::string first_md5, second_md5;
        sync_wait(env.reactor, padding_push(&env, &first_md5, &second_md5));
        auto expected = proto::md5(custom_scheme);
        REQUIRE(expected);
        CHECK(first_md5 == default_md5);
        CHECK(env.padding->current()->md5_hex() == proto::to_hex(expected.value()));
        CHECK(second_md5 == proto::to_hex(expected.value()));
        CHECK(env.padding->updates() == 1);
        CHECK(env.server->stats().padding_updates_sent == 1);  // not again for the second session
    }

    TEST_CASE("a failed authentication is relayed to the fallback service") {
        Environment env;
        // The echo service stands in for a web server; the fallback needs its port, known only
        // after the environment started, so a second server is made for this test.
        auto config = server_config();
        config.fallback = "127.0.0.1:" + std::to_string(env.echo.port);
        auto created = server::Server::create(env.reactor, config);
        REQUIRE(created);
        auto fallback_server = std::move(created).value();
        REQUIRE(fallback_server->start());
        env.server->stop();
        env.server = std::move(fallback_server);
        bool echoed = false;
        sync_wait(env.reactor, fallback_echo(&env, &echoed));
        CHECK(echoed);
        CHECK(env.server->stats().auth_failures == 1);
        CHECK(env.server->stats().fallbacks == 1);
    }

    TEST_CASE("an invalid pushed padding scheme is ignored") {
        session::PaddingState state;
        const std::string before = state.current()->md5_hex();
        CHECK_FALSE(state.update("no equals sign here"));
        CHECK(state.current()->md5_hex() == before);
        CHECK(state.updates() == 0);
    }

    TEST_CASE("a SYN before Settings gets an Alert and the session closes") {
        Environment env;
        std::vector<proto::Frame> frames;
        bool ended = false;
        sync_wait(env.reactor, syn_before_settings(&env, &frames, &ended));
        REQUIRE(frames.size() == 1);
        CHECK(frames[0].command == proto::Command::alert);
        CHECK(std::string(frames[0].data.begin(), frames[0].data.end()) ==
              "client did not send its settings");
        CHECK(ended);
        CHECK(env.server->stats().alerts_sent == 1);
    }

    TEST_CASE("heartbeat: ping is answered by a v2 server") {
        Environment env;
        sync_wait(env.reactor, heartbeat(&env));
    }

    TEST_CASE("a slow reader exerts backpressure: 16 MiB arrive, client buffering stays bounded") {
        Environment env;
        std::size_t max_buffered = 0, limit = 0;
        sync_wait(env.reactor, backpressure(&env, &max_buffered, &limit));
        MESSAGE("most bytes buffered client-side: " << max_buffered);
        CHECK(max_buffered <= limit);
        CHECK(max_buffered >= io::default_stream_buffer_limit / 2);
    }

    TEST_CASE("a write's timeout bounds the whole call against a slowly draining target") {
        Environment env;
        TcpService trickle(env.reactor);
        auto listener = TcpListener::listen(SocketAddress::loopback_v4(0));
        REQUIRE(listener);
        trickle.listener = std::move(listener).value();
        trickle.port = trickle.listener.address().port();
        bool accept_ended = false;
        env.reactor.spawn(trickle_accept_loop(&env.reactor, &trickle, &accept_ended));
        sync_wait(env.reactor, write_deadline(&env, &trickle));
        trickle.cancel.cancel();
        while (!accept_ended) env.reactor.run_once(true);
    }

    TEST_CASE("a read times out with -ETIMEDOUT and the stream stays usable") {
        Environment env;
        sync_wait(env.reactor, read_timeout(&env));
    }

}  // TEST_SUITE
