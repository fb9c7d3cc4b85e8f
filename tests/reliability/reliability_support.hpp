// Shared parts of the reliability tests (docs/RELIABILITY.md): the figures each test adds to
// (faults injected, streams, bytes verified, printed once when the executable ends), an in-process
// server with an echo target on one reactor, and small probes (open fds, RSS).
#pragma once

#include <dirent.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "client/session_pool.hpp"
#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/sync_wait.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"
#include "server/server.hpp"
#include "session/client_session.hpp"
#include "support/echo_service.hpp"
#include "support/test_certs.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define ANYTLS_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ANYTLS_TEST_ASAN 1
#endif
#endif
#ifndef ANYTLS_TEST_ASAN
#define ANYTLS_TEST_ASAN 0
#endif

namespace anytls::test {

// What the suite did, for docs/RELIABILITY.md; printed at exit.
struct ReliabilityFigures {
    std::atomic<std::uint64_t> faults{0};
    std::atomic<std::uint64_t> streams{0};
    std::atomic<std::uint64_t> bytes_verified{0};
    ~ReliabilityFigures() {
        std::fprintf(
            stderr,
            "reliability figures: faults injected %llu, streams %llu, bytes verified %llu\n",
            static_cast<unsigned long long>(faults.load()),
            static_cast<unsigned long long>(streams.load()),
            static_cast<unsigned long long>(bytes_verified.load()));
    }
};

inline ReliabilityFigures& figures() {
    static ReliabilityFigures f;
    return f;
}

inline std::size_t open_fd_count() {
    std::size_t n = 0;
    if (DIR* dir = ::opendir("/proc/self/fd")) {
        while (::readdir(dir)) ++n;
        ::closedir(dir);
    }
    return n;
}

inline std::size_t rss_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

inline std::vector<std::byte> random_bytes(std::uint64_t seed, std::size_t n) {
    std::mt19937_64 rng(seed);
    std::vector<std::byte> out(n);
    for (auto& b : out) b = std::byte{static_cast<unsigned char>(rng())};
    return out;
}

inline constexpr const char* kReliabilityPassword = "reliability-Password-4711";

// An in-process AnyTLS server (lib/server) and an echo target on one reactor.
struct ServerEnvironment {
    explicit ServerEnvironment(server::ServerConfig config = default_config())
        : echo_cancel(reactor) {
        auto created = server::Server::create(reactor, std::move(config));
        REQUIRE_MESSAGE(created, created.error().text());
        server = std::move(created).value();
        auto started = server->start();
        REQUIRE_MESSAGE(started, started.error().text());
        auto listener = io::TcpListener::listen(io::SocketAddress::loopback_v4(0));
        REQUIRE(listener);
        echo = std::move(listener).value();
        reactor.spawn(echo_accept_loop(&reactor, &echo, &echo_cancel));
    }
    ~ServerEnvironment() {
        server->stop();
        echo_cancel.cancel();
        drain();
        echo.close();
    }

    static server::ServerConfig default_config() {
        const auto& pki = test_pki();
        server::ServerConfig config;
        config.listen = "127.0.0.1:0";
        config.certificate_file = pki.server_cert;
        config.private_key_file = pki.server_key;
        config.users = {{"reliability", kReliabilityPassword}};
        config.connect_timeout = std::chrono::seconds(5);
        return config;
    }

    session::ClientConfig client_config(std::uint16_t port = 0) const {
        session::ClientConfig config;
        config.server_host = "127.0.0.1";
        config.server_port = port ? port : server->local_address().port();
        config.password = kReliabilityPassword;
        config.ca_file = test_pki().ca_cert;
        config.synack_timeout = std::chrono::seconds(5);
        config.connect_timeout = std::chrono::seconds(5);
        config.handshake_timeout = std::chrono::seconds(5);
        return config;
    }

    std::uint16_t echo_port() const { return echo.address().port(); }

    // Runs the reactor until pred() holds or `limit` of real time passed.
    template <typename Pred>
    bool run_until(Pred pred, io::Duration limit = std::chrono::seconds(10)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!pred()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            io::sync_wait(reactor, tick(&reactor));
        }
        return true;
    }
    static io::Task<void> tick(io::Reactor* r) {
        (void)co_await io::sleep_for(*r, std::chrono::milliseconds(2));
    }

    // Lets finished tasks unwind (bounded).
    void drain() {
        for (int i = 0; i < 20000 && reactor.live_tasks() > 0; ++i) reactor.run_once(true);
    }

    io::Reactor reactor;
    std::unique_ptr<server::Server> server;
    io::TcpListener echo;
    io::CancellationSource echo_cancel;
    std::shared_ptr<session::PaddingState> padding = std::make_shared<session::PaddingState>();
};

// Writes `size` seeded random bytes to the echo target through `stream` and reads them back.
// Returns an error text, or empty when every byte came back equal.
// Stream: a session::ClientStream or a client::PooledStream (the same read/write calls).
template <typename Stream>
io::Task<std::string> echo_verified(Stream* stream, std::uint64_t seed, std::size_t size) {
    auto data = random_bytes(seed, size);
    auto written = co_await stream->write(data, std::chrono::seconds(10));
    if (!written) co_return "write: " + written.error().text();
    std::vector<std::byte> back;
    std::vector<std::byte> buffer(64 * 1024);
    while (back.size() < size) {
        auto n = co_await stream->read(buffer, std::chrono::seconds(10));
        if (!n) co_return "read: " + n.error().text();
        if (*n == 0) co_return "the echo ended early";
        back.insert(back.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    if (back != data) co_return "the echoed bytes differ";
    figures().bytes_verified += size;
    ++figures().streams;
    co_return std::string();
}

// Captures every log line at `level` and below while it lives (the tests read the pool's and the
// server's lines); restores the default level and sink afterwards.
struct LogCapture {
    explicit LogCapture(log::Level level = log::Level::debug) {
        log::set_level(level);
        log::set_sink([this](log::Level, std::string_view line) { lines.emplace_back(line); });
    }
    ~LogCapture() {
        log::set_sink({});
        log::set_level(log::Level::info);
    }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;
    // Some line contains `part`.
    bool any(std::string_view part) const {
        for (const auto& l : lines)
            if (l.find(part) != std::string::npos) return true;
        return false;
    }
    // Some line is exactly `line`.
    bool logged(std::string_view line) const {
        for (const auto& l : lines)
            if (l == line) return true;
        return false;
    }
    std::vector<std::string> lines;
};

// A new session (to `port`, the server's own when 0) carries one verified echo of `size` bytes,
// then ends. Returns an error text, or empty.
inline io::Task<std::string> session_echo(ServerEnvironment* env, std::uint16_t port,
                                          std::uint64_t session_seed, std::uint64_t echo_seed,
                                          std::size_t size) {
    auto opened = co_await session::open_session(env->reactor, env->client_config(port),
                                                 env->padding, session_seed);
    if (!opened) co_return "open_session: " + opened.error().text();
    auto session = std::move(opened).value();
    auto stream =
        co_await session->open_stream("127.0.0.1", env->echo_port(), std::chrono::seconds(5));
    if (!stream) {
        session->close();
        co_return "open_stream: " + stream.error().text();
    }
    auto verified = co_await echo_verified(&stream.value(), echo_seed, size);
    auto closed = co_await stream->close();
    (void)closed;
    session->close();
    co_return verified;
}

// One verified echo of `size` bytes through a stream the pool opens, which is then closed;
// `session_seq`, when given, receives the sequence number of the session that carried it.
inline io::Task<std::string> pooled_echo(client::SessionPool* pool, std::uint16_t echo_port,
                                         std::uint64_t seed, std::size_t size,
                                         std::uint64_t* session_seq = nullptr) {
    auto stream = co_await pool->open_stream("127.0.0.1", echo_port, std::chrono::seconds(5));
    if (!stream) co_return "open: " + stream.error().text();
    if (session_seq) *session_seq = stream->session_seq();
    auto verified = co_await echo_verified(&stream.value(), seed, size);
    auto closed = co_await stream->close();
    (void)closed;
    co_return verified;
}

// One stream's long echo transfer through a pool, for the tests that break the path under it.
struct EchoTransfer {
    std::size_t verified = 0;  // bytes that came back equal
    bool ended = false;
    bool clean_end = false;  // the stream ended with EOF instead of an error
    std::string error;
    std::chrono::steady_clock::time_point ended_at{};
};

// Echo rounds of 32 KiB of seeded random bytes until something fails (or `rounds` pass); every
// read and write has a 5 s timeout.
inline io::Task<void> echo_until_failure(client::SessionPool* pool, std::uint16_t echo_port,
                                         EchoTransfer* t, std::uint64_t seed,
                                         std::uint64_t rounds) {
    using std::chrono::seconds;
    auto stream = co_await pool->open_stream("127.0.0.1", echo_port, seconds(5));
    if (!stream) {
        t->error = "open: " + stream.error().text();
        t->ended_at = std::chrono::steady_clock::now();
        t->ended = true;
        co_return;
    }
    std::vector<std::byte> back(32 * 1024);
    for (std::uint64_t round = 0; round < rounds; ++round) {
        auto data = random_bytes(seed + round, back.size());
        auto w = co_await stream->write(data, seconds(5));
        if (!w) {
            t->error = w.error().text();
            break;
        }
        std::size_t got = 0;
        while (got < back.size()) {
            auto n = co_await stream->read(std::span<std::byte>(back).subspan(got), seconds(5));
            if (!n) {
                t->error = n.error().text();
                break;
            }
            if (*n == 0) {
                t->clean_end = true;
                break;
            }
            got += *n;
        }
        if (got < back.size()) break;
        if (back != data) {
            t->error = "echo differs";
            break;
        }
        t->verified += back.size();
    }
    t->ended_at = std::chrono::steady_clock::now();
    t->ended = true;
}

}  // namespace anytls::test
