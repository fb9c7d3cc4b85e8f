// Fuzz target: a client session and a server session joined in memory (docs/RELIABILITY.md), in the
// style of nghttp2's session fuzzing. The TLS layer is left out (tls::TlsConnection::plaintext()):
// what is fuzzed is the AnyTLS layer on both sides — the server's auth preamble reading, frame
// dispatch, stream table, SYNACK and relay to a target; the client's frame dispatch, stream
// buffers, padding, heartbeats — with every byte between them passing a relay that the input
// controls.
//
// Per input: two socket pairs (client <-> relay <-> server) on one reactor; the server is a
// real server::Server (Server::serve) whose targets are an echo service and a port that
// refuses connections, both on 127.0.0.1 (ServerConfig::allow_target refuses every other
// address a mutated frame may name, so nothing leaves loopback and UDP-over-TCP stays off).
//
// Input layout:
//   u16 script length S, then S bytes of client script, then the relay's mutation bytes.
//   Script, one action per byte (+ arguments), at most 24 actions:
//     0 open a stream to the echo target   1 open a stream to the refusing port
//     2 u16 n: write n % 8192 + 1 bytes and read the echo back (short timeouts)
//     3 close the stream                   4 heartbeat (v2 peers)
//     5 drop the stream handle (its FIN goes out in the background)
//   Relay: for each chunk read from either side, one op byte (when the bytes run out, chunks
//   pass unchanged): 0-3 pass; 4 flip a byte (u16 position, u8 mask); 5 drop a span (u16
//   start, u16 length); 6 insert u8 % 64 bytes taken from the input; 7 hold the chunk and send
//   it after the next one (reorder); 8 cut this direction (FIN, later bytes discarded);
//   9 reset both directions.
//
// Invariants:
//   - no crash, no sanitizer report, memory bounded (tools/fuzz/run's -malloc_limit_mb);
//   - a stream holds at most its buffer limit + one frame of unread data;
//   - while no byte was changed, every byte read back equals what was written (nothing lost,
//     reordered or invented silently);
//   - once the input is exhausted and the relay closes the connection, every stream ends: a
//     read returns the end or an error, not a timeout; the server forgets the session and
//     every coroutine of the round (client, server, relay, echo) finishes within 5 s.
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)  // g++
#define SESSION_FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)  // clang
#define SESSION_FUZZ_ASAN 1
#endif
#endif
#if defined(SESSION_FUZZ_ASAN)
#include <sanitizer/lsan_interface.h>
#endif

#include "fuzz_input.hpp"
#include "io/reactor.hpp"
#include "io/sync_wait.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"
#include "proto/frame.hpp"
#include "server/server.hpp"
#include "session/client_session.hpp"
#include "tls/self_signed.hpp"
#include "tls/tls_connection.hpp"

using namespace anytls;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t stream_buffer_limit = 64 * 1024;
constexpr char password[] = "session fuzz";

io::Task<void> echo_connection(io::Reactor* reactor, io::Socket socket) {
    std::vector<std::byte> buffer(16 * 1024);
    for (;;) {
        auto receive = io::recv(*reactor, socket.fd(), buffer.data(), buffer.size(), 5s);
        auto n = co_await receive;
        if (!n || *n == 0) break;
        auto sent = co_await io::send_all(*reactor, socket.fd(),
                                          std::span<const std::byte>(buffer.data(), *n), 2s);
        if (!sent) break;
    }
}

io::Task<void> echo_accept_loop(io::Reactor* reactor, io::TcpListener* listener) {
    for (;;) {
        auto accept = listener->accept(*reactor);
        auto socket = co_await accept;
        if (!socket) break;
        reactor->spawn(echo_connection(reactor, std::move(socket).value()));
    }
}

// Everything that lives for the whole fuzzing process.
struct World {
    io::Reactor reactor;
    std::unique_ptr<server::Server> server;
    io::TcpListener echo;
    int refusing_fd = -1;  // bound, never listening: connecting to it is refused
    std::uint16_t echo_port = 0;
    std::uint16_t refusing_port = 0;
    std::size_t baseline_tasks = 0;

    World() {
        ::signal(SIGPIPE, SIG_IGN);
        log::set_level(log::Level::error);
        log::set_sink([](log::Level, std::string_view) {});  // alerts are expected; keep quiet
        auto listener = io::TcpListener::listen(io::SocketAddress::loopback_v4(0));
        if (!listener) std::abort();
        echo = std::move(listener).value();
        echo_port = echo.address().port();
        reactor.spawn(echo_accept_loop(&reactor, &echo));

        refusing_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        auto address = io::SocketAddress::loopback_v4(0);
        if (refusing_fd < 0 || ::bind(refusing_fd, address.get(), address.length()) != 0)
            std::abort();
        sockaddr_storage bound{};
        socklen_t length = sizeof(bound);
        ::getsockname(refusing_fd, reinterpret_cast<sockaddr*>(&bound), &length);
        refusing_port = ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

        auto certificate = tls::generate_self_signed({"localhost"});
        if (!certificate) std::abort();
        server::ServerConfig config;
        config.listen = "127.0.0.1:0";
        config.certificate_pem = certificate->certificate_pem;
        config.private_key_pem = certificate->private_key_pem;
        config.users.push_back({"fuzz", password});
        config.max_streams_per_session = 8;
        config.stream_buffer_limit = stream_buffer_limit;
        config.auth_timeout = 1s;
        config.connect_timeout = 1s;
        config.write_timeout = 1s;
        const std::uint16_t echo_port_copy = echo_port, refusing_port_copy = refusing_port;
        config.allow_target = [echo_port_copy,
                               refusing_port_copy](const proto::SocksAddress& target) {
            return target.type == proto::SocksAddress::Type::ipv4 && target.host() == "127.0.0.1" &&
                   (target.port == echo_port_copy || target.port == refusing_port_copy);
        };
        auto created = server::Server::create(reactor, std::move(config));
        if (!created) std::abort();
        server = std::move(created).value();
        baseline_tasks = reactor.live_tasks();
    }
};

World& world() {
    // Never destroyed: libFuzzer exits without unwinding. The echo service's coroutine frames
    // are referenced only from the kernel's ring (their operations' user_data), where
    // LeakSanitizer cannot see them, so what the world allocates is left out of leak checks.
#if defined(SESSION_FUZZ_ASAN)
    __lsan_disable();
    static World* w = new World();
    __lsan_enable();
#else
    static World* w = new World();
#endif
    return *w;
}

// The relay between the two socket pairs, driven by the input's mutation bytes.
struct Relay {
    explicit Relay(std::span<const std::uint8_t> ops) : input(ops.data(), ops.size()) {}
    fuzz::FuzzInput input;
    bool mutated = false;
    bool closed = false;
    std::size_t streams_opened = 0, bytes_echoed = 0;  // for SESSION_FUZZ_VERBOSE
    int client_wire = -1;                              // the relay's end towards the client
    int server_wire = -1;                              // the relay's end towards the server
};

io::Task<void> relay_direction(io::Reactor* reactor, std::shared_ptr<Relay> relay, int from,
                               int to) {
    std::vector<std::uint8_t> buffer(16 * 1024);
    std::vector<std::uint8_t> held;
    bool cut = false;
    while (!relay->closed) {
        auto receive = io::recv(*reactor, from, buffer.data(), buffer.size());
        auto n = co_await receive;
        if (relay->closed) break;
        if (!n || *n == 0) {
            if (!held.empty()) {
                auto sent = co_await io::send_all(
                    *reactor, to, std::as_bytes(std::span<const std::uint8_t>(held)), 1s);
                (void)sent;
            }
            ::shutdown(to, SHUT_WR);
            break;
        }
        if (cut) continue;  // after a cut, bytes are read and discarded
        std::vector<std::uint8_t> chunk(buffer.begin(),
                                        buffer.begin() + static_cast<std::ptrdiff_t>(*n));
        const std::uint8_t op = relay->input.remaining() ? relay->input.take_u8() % 10 : 0;
        bool hold = false;
        switch (op) {
            case 4: {
                const std::size_t at = relay->input.take_u16() % chunk.size();
                const std::uint8_t mask = relay->input.take_u8();
                chunk[at] ^= mask ? mask : 1;
                relay->mutated = true;
                break;
            }
            case 5: {
                const std::size_t start = relay->input.take_u16() % chunk.size();
                const std::size_t length = relay->input.take_u16() % (chunk.size() - start + 1);
                chunk.erase(chunk.begin() + static_cast<std::ptrdiff_t>(start),
                            chunk.begin() + static_cast<std::ptrdiff_t>(start + length));
                relay->mutated = relay->mutated || length > 0;
                break;
            }
            case 6: {
                const std::size_t at = relay->input.take_u16() % (chunk.size() + 1);
                auto extra = relay->input.take_bytes(relay->input.take_u8() % 64);
                chunk.insert(chunk.begin() + static_cast<std::ptrdiff_t>(at), extra.begin(),
                             extra.end());
                relay->mutated = relay->mutated || !extra.empty();
                break;
            }
            case 7:
                hold = held.empty();
                relay->mutated = true;
                break;
            case 8:
                cut = true;
                relay->mutated = true;
                break;
            case 9:
                relay->mutated = true;
                relay->closed = true;
                ::shutdown(relay->client_wire, SHUT_RDWR);
                ::shutdown(relay->server_wire, SHUT_RDWR);
                co_return;
            default:
                break;
        }
        if (hold) {
            held = std::move(chunk);
            continue;
        }
        if (!held.empty()) {
            chunk.insert(chunk.end(), held.begin(), held.end());  // the held chunk after this one
            held.clear();
        }
        if (!chunk.empty()) {
            auto sent = co_await io::send_all(
                *reactor, to, std::as_bytes(std::span<const std::uint8_t>(chunk)), 1s);
            if (!sent) break;
        }
        if (cut) ::shutdown(to, SHUT_WR);
    }
}

// The expected echo: byte i of stream `id` is a function of both.
std::uint8_t pattern(std::uint32_t id, std::size_t i) {
    return static_cast<std::uint8_t>((i * 131 + id * 7 + (i >> 8)) & 0xff);
}

// How long the client waits for an answer. On an intact wire every answer comes, so the wait
// is long enough for a loaded machine; once the relay has changed a byte an answer may never
// come, and waiting long for it made most of a run's time (a few inputs per second), so the
// wait is short: what comes late is read by the next read of the stream.
std::chrono::milliseconds answer_wait(const Relay& relay, std::chrono::milliseconds intact) {
    return relay.mutated ? std::min(intact, std::chrono::milliseconds(5)) : intact;
}

void check_buffer_bound(const session::ClientStream& stream) {
    FUZZ_CHECK(stream.buffered() <= stream_buffer_limit + proto::max_frame_data);
}

io::Task<void> drive_client(World* w, std::shared_ptr<Relay> relay,
                            std::shared_ptr<session::ClientSession> session, fuzz::FuzzInput script,
                            std::optional<session::ClientStream>* kept) {
    std::optional<session::ClientStream> stream;
    std::size_t written = 0, echoed = 0;  // on the current stream
    for (int action = 0; action < 24 && script.remaining() > 0; ++action) {
        if (session->closed()) break;
        const std::uint8_t op = script.take_u8() % 6;
        switch (op) {
            case 0:
            case 1: {
                if (stream || session->state() != session::SessionState::idle) break;
                const std::uint16_t port = op == 0 ? w->echo_port : w->refusing_port;
                auto opened =
                    co_await session->open_stream("127.0.0.1", port, answer_wait(*relay, 300ms));
                if (opened) {
                    stream.emplace(std::move(opened).value());
                    ++relay->streams_opened;
                    written = echoed = 0;
                }
                break;
            }
            case 2: {
                const std::size_t n = script.take_u16() % 8192 + 1;
                if (!stream) break;
                std::vector<std::byte> data(n);
                for (std::size_t i = 0; i < n; ++i)
                    data[i] = std::byte{pattern(stream->id(), written + i)};
                auto sent = co_await stream->write(data, answer_wait(*relay, 300ms));
                if (!sent) break;
                written += n;
                std::vector<std::byte> buffer(16 * 1024);
                while (echoed < written) {
                    auto got = co_await stream->read(buffer, answer_wait(*relay, 50ms));
                    check_buffer_bound(*stream);
                    if (!got || *got == 0) break;
                    if (!relay->mutated) {
                        // Nothing was changed on the wire: the echo is exactly what was sent.
                        FUZZ_CHECK(echoed + *got <= written);
                        for (std::size_t i = 0; i < *got; ++i)
                            FUZZ_CHECK(buffer[i] == std::byte{pattern(stream->id(), echoed + i)});
                    }
                    echoed += *got;
                    relay->bytes_echoed += *got;
                }
                break;
            }
            case 3:
                if (stream) {
                    auto closed = co_await stream->close();
                    (void)closed;
                    stream.reset();
                }
                break;
            case 4:
                if (session->peer_version() >= 2) {
                    auto pinged = co_await session->ping(answer_wait(*relay, 50ms));
                    (void)pinged;
                }
                break;
            case 5:
                stream.reset();  // the destructor sends the FIN in the background
                break;
        }
    }
    if (stream) kept->emplace(std::move(*stream));
}

// Ends the round: the relay closes every wire, then every stream must end.
io::Task<void> finish_round(World* w, std::shared_ptr<Relay> relay,
                            std::shared_ptr<session::ClientSession> session,
                            std::optional<session::ClientStream>* kept) {
    relay->closed = true;
    ::shutdown(relay->client_wire, SHUT_RDWR);
    ::shutdown(relay->server_wire, SHUT_RDWR);
    if (*kept) {
        // The stream must end (its data, then the end or an error), not hang.
        std::vector<std::byte> buffer(16 * 1024);
        for (std::size_t reads = 0;; ++reads) {
            FUZZ_CHECK(reads < 64);  // at most the buffer limit + a frame is left to read
            auto got = co_await (*kept)->read(buffer, 5s);
            check_buffer_bound(**kept);
            if (!got) {
                FUZZ_CHECK(got.error().code != -ETIMEDOUT);
                break;
            }
            if (*got == 0) break;
        }
        kept->reset();
    }
    session->close();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (w->reactor.live_tasks() > w->baseline_tasks || w->server->session_count() > 0) {
        FUZZ_CHECK(std::chrono::steady_clock::now() < deadline);
        auto pause = io::sleep_for(w->reactor, 1ms);
        co_await pause;
    }
}

io::Task<void> round(World* w, fuzz::FuzzInput script, std::span<const std::uint8_t> relay_ops) {
    int client_pair[2], server_pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, client_pair) != 0)
        std::abort();
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, server_pair) != 0)
        std::abort();
    io::Socket client_wire(client_pair[1]), server_wire(server_pair[0]);
    auto relay = std::make_shared<Relay>(relay_ops);
    relay->client_wire = client_wire.fd();
    relay->server_wire = server_wire.fd();

    w->server->serve(tls::TlsConnection::plaintext(w->reactor, io::Socket(server_pair[1])));
    w->reactor.spawn(relay_direction(&w->reactor, relay, client_wire.fd(), server_wire.fd()));
    w->reactor.spawn(relay_direction(&w->reactor, relay, server_wire.fd(), client_wire.fd()));

    session::ClientConfig config;
    config.server_host = "127.0.0.1";
    config.password = password;
    config.synack_timeout = 300ms;
    config.control_write_timeout = 300ms;
    config.stream_buffer_limit = stream_buffer_limit;
    auto opened = co_await session::open_session_over(
        w->reactor, config, nullptr,
        tls::TlsConnection::plaintext(w->reactor, io::Socket(client_pair[0])));
    FUZZ_CHECK(opened.ok());  // the preamble fits the socket buffer: this write cannot fail
    auto session = std::move(opened).value();
    std::optional<session::ClientStream> kept;
    co_await drive_client(w, relay, session, script, &kept);
    co_await finish_round(w, relay, session, &kept);
    if (std::getenv("SESSION_FUZZ_VERBOSE")) {
        std::fprintf(stderr, "session fuzz: %zu streams opened, %zu bytes echoed, wire %s\n",
                     relay->streams_opened, relay->bytes_echoed,
                     relay->mutated ? "mutated" : "intact");
    }
    // The relay's sockets close here, after both relay coroutines have ended (finish_round
    // waited for every task of the round).
}

}  // namespace

// The world is built before the first input, so libFuzzer's per-input leak check does not
// count it.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    world();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    World& w = world();
    fuzz::FuzzInput input(data, size);
    const std::size_t script_length = input.take_u16();
    auto script = input.take_bytes(script_length);
    io::sync_wait(w.reactor,
                  round(&w, fuzz::FuzzInput(script.data(), script.size()), input.rest()));
    return 0;
}
