// SessionPool against a real AnyTLS server on 127.0.0.1: every lifecycle rule carried out on
// live sessions. Decisions read a ManualClock that the tests advance, and the tests run the
// cleanup cycles themselves (run_cycle), so no test sleeps to make time pass; only handshakes
// and heartbeat round trips take real (milliseconds of) time.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "client/session_pool.hpp"
#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/reactor_thread.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"
#include "server/server.hpp"
#include "support/echo_service.hpp"
#include "support/test_certs.hpp"
#include "support/test_server_config.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPassword = "pool test password";

// A TCP relay between the client and the server that the test can stall: a stalled
// connection silently stops forwarding (no FIN, no reset), like a NAT that dropped the path.
struct Relay {
    struct Pipe {
        bool stalled = false;
        int client_fd = -1;
        int server_fd = -1;
    };
    explicit Relay(Reactor& r) : cancel(r) {}
    TcpListener listener;
    SocketAddress target;
    CancellationSource cancel;
    std::vector<std::shared_ptr<Pipe>> pipes;
    void stall_all() {
        for (auto& p : pipes) p->stalled = true;
    }
    // Ends every connection both ways at once, as a server that dies does.
    void cut_all() {
        for (auto& p : pipes) {
            ::shutdown(p->client_fd, SHUT_RDWR);
            ::shutdown(p->server_fd, SHUT_RDWR);
        }
    }
};

Task<void> relay_direction(Reactor* r, int from, int to, std::shared_ptr<Relay::Pipe> pipe) {
    std::vector<std::byte> buffer(64 * 1024);
    for (;;) {
        auto receive = recv(*r, from, buffer.data(), buffer.size());
        auto n = co_await receive;
        if (!n || *n == 0) break;
        if (pipe->stalled) continue;  // swallow: the path is dead but nobody says so
        auto sent = co_await send_all(*r, to, std::span<const std::byte>(buffer.data(), *n), 10s);
        if (!sent) break;
    }
    ::shutdown(to, SHUT_WR);
}

Task<void> relay_connection(Reactor* r, Relay* relay, Socket client) {
    auto upstream = co_await tcp_connect(*r, relay->target, 5s);
    if (!upstream) co_return;
    auto pipe = std::make_shared<Relay::Pipe>();
    relay->pipes.push_back(pipe);
    Socket server = std::move(upstream).value();
    pipe->client_fd = client.fd();
    pipe->server_fd = server.fd();
    // Two directions; this frame keeps both sockets alive until both end.
    struct Both {
        static Task<void> run(Reactor* r, int a, int b, std::shared_ptr<Relay::Pipe> p, int* done) {
            co_await relay_direction(r, a, b, p);
            ++*done;
        }
    };
    int done = 0;
    r->spawn(Both::run(r, client.fd(), server.fd(), pipe, &done));
    r->spawn(Both::run(r, server.fd(), client.fd(), pipe, &done));
    while (done < 2) (void)co_await sleep_for(*r, 20ms);
}

Task<void> accept_loop(Reactor* r, TcpListener* listener, CancellationSource* cancel,
                       Relay* relay) {
    for (;;) {
        auto accept = listener->accept(*r, cancel);
        auto socket = co_await accept;
        if (!socket) break;
        if (relay)
            r->spawn(relay_connection(r, relay, std::move(socket).value()));
        else
            r->spawn(test::echo_connection(r, std::move(socket).value()));
    }
}

std::uint16_t closed_port() {
    auto listener = TcpListener::listen(SocketAddress::loopback_v4(0));
    REQUIRE(listener);
    std::uint16_t port = listener->address().port();
    listener->close();
    return port;
}

config::PoolSettings base_settings() {
    config::PoolSettings s;
    s.idle_session_check_interval = 1s;
    s.idle_session_timeout = 30s;
    return s;
}

// With ANYTLS_POOL_TEST_SESSION_THREAD=1 every test runs again with the pool's sessions on a
// second reactor thread (docs/DESIGN.md, "Threads"): the pool decides on the test's reactor,
// and every session operation, stream read and write crosses to the other one and back.
bool sessions_on_another_thread() {
    const char* value = std::getenv("ANYTLS_POOL_TEST_SESSION_THREAD");
    return value && std::string_view(value) == "1";
}

// A server, an echo target and (optionally) a stallable relay on one reactor, plus a pool
// whose decisions read a ManualClock.
struct Fixture {
    explicit Fixture(config::PoolSettings settings = base_settings(), bool through_relay = false,
                     bool server_unreachable = false, std::size_t server_streams_per_session = 256)
        : echo_cancel(reactor), relay(reactor) {
        server::ServerConfig sc = test::loopback_server_config("pool", kPassword);
        sc.max_streams_per_session = server_streams_per_session;
        auto created = server::Server::create(reactor, sc);
        REQUIRE_MESSAGE(created, created.error().text());
        server = std::move(created).value();
        REQUIRE(server->start());

        auto echo = TcpListener::listen(SocketAddress::loopback_v4(0));
        REQUIRE(echo);
        echo_listener = std::move(echo).value();
        reactor.spawn(accept_loop(&reactor, &echo_listener, &echo_cancel, nullptr));

        std::uint16_t port = server->local_address().port();
        if (through_relay) {
            auto l = TcpListener::listen(SocketAddress::loopback_v4(0));
            REQUIRE(l);
            relay.listener = std::move(l).value();
            relay.target = server->local_address();
            reactor.spawn(accept_loop(&reactor, &relay.listener, &relay.cancel, &relay));
            port = relay.listener.address().port();
        }
        if (server_unreachable) port = closed_port();

        session::ClientConfig cc;
        cc.server_host = "127.0.0.1";
        cc.server_port = port;
        cc.password = kPassword;
        cc.ca_file = test::test_pki().ca_cert;
        cc.synack_timeout = 1s;
        cc.connect_timeout = 2s;
        cc.handshake_timeout = 2s;
        std::vector<Reactor*> session_reactors;
        if (sessions_on_another_thread()) {
            session_thread = std::make_unique<ReactorThread>();
            session_reactors.push_back(&session_thread->reactor());
        }
        pool = std::make_unique<client::SessionPool>(
            reactor, "test-proxy", cc, settings, std::make_shared<session::PaddingState>(),
            &sequence, &clock, 42, std::move(session_reactors));
        log::set_level(log::Level::debug);
        log::set_sink([this](log::Level, std::string_view line) {
            std::lock_guard lock(lines_mutex);
            lines.emplace_back(line);
        });
    }
    ~Fixture() {
        log::set_sink({});
        log::set_level(log::Level::info);
        sync_wait(reactor, pool->shutdown());
        server->stop();
        echo_cancel.cancel();
        relay.cancel.cancel();
        for (int i = 0; i < 20000 && reactor.live_tasks() > 0; ++i) reactor.run_once(true);
    }

    // Runs the reactor until pred() holds (real time bounded by `limit`).
    template <typename Pred>
    bool run_until(Pred pred, Duration limit = 10s) {
        auto deadline = std::chrono::steady_clock::now() + limit;
        while (!pred()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            sync_wait(reactor, tick(&reactor));
        }
        return true;
    }
    static Task<void> tick(Reactor* r) { (void)co_await sleep_for(*r, 2ms); }

    void cycle_and_settle() {
        pool->run_cycle();
        REQUIRE(run_until([&] { return pool->creating() == 0; }));
    }

    bool logged(const std::string& line) const {
        std::lock_guard lock(lines_mutex);
        return std::find(lines.begin(), lines.end(), line) != lines.end();
    }
    // A copy: sessions on the other thread log as they close.
    std::vector<std::string> log_lines() const {
        std::lock_guard lock(lines_mutex);
        return lines;
    }

    std::uint16_t echo_port() const { return echo_listener.address().port(); }

    Reactor reactor;
    ManualClock clock{TimePoint{} + std::chrono::hours(1000)};
    std::unique_ptr<server::Server> server;
    TcpListener echo_listener;
    CancellationSource echo_cancel;
    Relay relay;
    std::atomic<std::uint64_t> sequence{0};
    std::unique_ptr<ReactorThread> session_thread;  // outlives the pool
    std::unique_ptr<client::SessionPool> pool;
    mutable std::mutex lines_mutex;
    std::vector<std::string> lines;
};

// Writes `size` random bytes on `stream` (seeded by size); reads them back later with
// read_echo().
Task<Result<void>> write_pattern(client::PooledStream* stream, std::size_t size) {
    std::mt19937_64 rng(size);
    std::vector<std::byte> data(size);
    for (auto& b : data) b = std::byte{static_cast<unsigned char>(rng())};
    co_return co_await stream->write(data, 5s);
}

Task<Result<void>> read_echo(client::PooledStream* stream, std::size_t size) {
    std::mt19937_64 rng(size);
    std::vector<std::byte> back;
    std::vector<std::byte> buf(65536);
    while (back.size() < size) {
        auto n = co_await stream->read(buf, 5s);
        if (!n) co_return std::move(n).error();
        if (*n == 0) co_return make_error(errc::closed, "echo ended early");
        back.insert(back.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
    }
    for (auto b : back)
        if (b != std::byte{static_cast<unsigned char>(rng())})
            co_return make_error(errc::protocol, "echo mismatch");
    co_return Result<void>{};
}

// Opens a stream through the pool, echoes `size` random bytes and checks them.
Task<Result<client::PooledStream>> open_and_echo(Fixture* f, std::size_t size) {
    auto opened = co_await f->pool->open_stream("127.0.0.1", f->echo_port(), 5s);
    if (!opened) co_return std::move(opened).error();
    auto written = co_await write_pattern(&*opened, size);
    if (!written) co_return std::move(written).error();
    auto echoed = co_await read_echo(&*opened, size);
    if (!echoed) co_return std::move(echoed).error();
    co_return std::move(opened).value();
}

Task<Result<std::uint64_t>> echo_and_close(Fixture* f, std::size_t size) {
    auto s = co_await open_and_echo(f, size);
    if (!s) co_return std::move(s).error();
    std::uint64_t seq = s->session_seq();
    auto c = co_await s->close();
    if (!c) co_return std::move(c).error();
    co_return seq;
}

// Opens n streams at once (n sessions), verifies each, then closes them all: n idle sessions.
Task<Result<void>> make_idle_sessions(Fixture* f, int n) {
    std::vector<client::PooledStream> open;
    for (int i = 0; i < n; ++i) {
        auto s = co_await open_and_echo(f, 1000 + i);
        if (!s) co_return std::move(s).error();
        open.push_back(std::move(s).value());
    }
    for (auto& s : open) {
        auto c = co_await s.close();
        if (!c) co_return std::move(c).error();
    }
    co_return Result<void>{};
}

}  // namespace

TEST_SUITE("client") {
    TEST_CASE(
        "proactive maintenance fills the pool at the create rate, with the exact debug lines") {
        auto settings = base_settings();
        settings.ensure_idle_session = 5;
        settings.ensure_idle_session_create_rate = 2;
        Fixture f(settings);
        f.cycle_and_settle();
        CHECK(f.pool->stats().idle == 2);
        CHECK(f.logged(
            "[AnyTLS] Proactive pool maintenance: current=0, target=5, creating 2 sessions"));
        CHECK(f.logged("[AnyTLS] Created proactive session #1"));
        CHECK(f.logged("[AnyTLS] Created proactive session #2"));
        f.cycle_and_settle();
        CHECK(f.pool->stats().idle == 4);
        CHECK(f.logged(
            "[AnyTLS] Proactive pool maintenance: current=2, target=5, creating 2 sessions"));
        f.cycle_and_settle();
        CHECK(f.pool->stats().idle == 5);
        CHECK(f.logged(
            "[AnyTLS] Proactive pool maintenance: current=4, target=5, creating 1 sessions"));
        f.cycle_and_settle();
        CHECK(f.pool->stats().idle == 5);  // full: nothing more
        CHECK(f.pool->stats().created_total == 5);
        CHECK(f.server->session_count() == 5);
    }

    TEST_CASE(
        "in-flight creations count: a cycle during handshakes does not overshoot the target") {
        auto settings = base_settings();
        settings.ensure_idle_session = 3;
        Fixture f(settings);
        f.pool->run_cycle();
        CHECK(f.pool->creating() == 3);
        f.pool->run_cycle();  // handshakes still running
        f.pool->run_cycle();
        CHECK(f.pool->creating() == 3);
        REQUIRE(f.run_until([&] { return f.pool->creating() == 0; }));
        CHECK(f.pool->stats().idle == 3);
        CHECK(f.pool->stats().created_total == 3);
    }

    TEST_CASE(
        "acquire reuses the newest idle session: warm opens, and cold opens when none is idle") {
        Fixture f;
        auto first = sync_wait(f.reactor, echo_and_close(&f, 5000));
        REQUIRE_MESSAGE(first, first.error().text());
        auto second = sync_wait(f.reactor, echo_and_close(&f, 7000));
        REQUIRE(second);
        CHECK(*second == *first);  // reused
        auto stats = f.pool->stats();
        CHECK(stats.cold_opens == 1);
        CHECK(stats.warm_opens == 1);
        // Two at once: the second needs a new session (seq 2); afterwards the newest (2) is taken.
        auto two = sync_wait(f.reactor, make_idle_sessions(&f, 2));
        REQUIRE_MESSAGE(two, two.error().text());
        CHECK(f.pool->stats().idle == 2);
        auto third = sync_wait(f.reactor, echo_and_close(&f, 100));
        REQUIRE(third);
        CHECK(*third == 2);
    }

    TEST_CASE("idle cleanup closes timed-out sessions beyond the protection floor") {
        auto settings = base_settings();
        settings.idle_session_timeout = 3s;
        settings.min_idle_session = 1;
        Fixture f(settings);
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 3)));
        f.clock.advance(2s);
        f.pool->run_cycle();
        CHECK(f.pool->stats().closed_idle == 0);  // not yet timed out
        f.clock.advance(2s);
        f.pool->run_cycle();
        auto stats = f.pool->stats();
        CHECK(stats.closed_idle == 2);
        CHECK(stats.idle == 1);
        CHECK(f.logged(
            "[AnyTLS] Idle cleanup: found 3 idle sessions, closing 2 (keeping 1 protected)"));
        // The one kept is the newest.
        auto snap = f.pool->snapshot();
        REQUIRE(snap.size() == 1);
        CHECK(snap[0].seq == 3);
    }

    TEST_CASE(
        "age: idle sessions past their lifetime close; a busy one closes when its stream ends") {
        auto settings = base_settings();
        settings.max_connection_lifetime = 10s;
        Fixture f(settings);
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 2)));
        auto busy = sync_wait(f.reactor, open_and_echo(&f, 100));  // takes the newest idle one
        REQUIRE(busy);
        f.clock.advance(11s);
        f.pool->run_cycle();
        auto stats = f.pool->stats();
        CHECK(stats.closed_age == 1);  // the idle one; the busy one is never cut
        CHECK(stats.busy == 1);
        CHECK(f.logged("[AnyTLS] Age cleanup: closing 1 aged sessions (keeping 0 protected)"));
        // The stream still works, then its end closes the aged session.
        struct Use {
            static Task<Result<void>> run(client::PooledStream* s) {
                std::byte b[3] = {std::byte{1}, std::byte{2}, std::byte{3}};
                auto w = co_await s->write(b, 2s);
                if (!w) co_return w;
                std::byte r[3];
                auto n = co_await s->read(r, 2s);
                if (!n) co_return std::move(n).error();
                co_return co_await s->close();
            }
        };
        REQUIRE(sync_wait(f.reactor, Use::run(&busy.value())));
        stats = f.pool->stats();
        CHECK(stats.closed_age == 2);
        CHECK(stats.idle + stats.busy == 0);
    }

    TEST_CASE("min-idle-session-for-age spares aged sessions") {
        auto settings = base_settings();
        settings.max_connection_lifetime = 10s;
        settings.min_idle_session_for_age = 2;
        Fixture f(settings);
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 3)));
        f.clock.advance(11s);
        f.pool->run_cycle();
        CHECK(f.pool->stats().closed_age == 1);
        CHECK(f.pool->stats().idle == 2);
        CHECK(f.logged("[AnyTLS] Age cleanup: closing 1 aged sessions (keeping 2 protected)"));
    }

    TEST_CASE("session-reuse = false closes a session when its stream ends") {
        auto settings = base_settings();
        settings.session_reuse = false;
        Fixture f(settings);
        REQUIRE(sync_wait(f.reactor, echo_and_close(&f, 100)));
        REQUIRE(sync_wait(f.reactor, echo_and_close(&f, 100)));
        auto stats = f.pool->stats();
        CHECK(stats.closed_no_reuse == 2);
        CHECK(stats.cold_opens == 2);
        CHECK(stats.warm_opens == 0);
    }

    TEST_CASE(
        "a lingering stream hands its session back; the next stream rides it while the first "
        "drains") {
        Fixture f;
        constexpr std::size_t kSize = 20000;  // below the stream buffer limit: waits unread
        auto first = sync_wait(f.reactor, f.pool->open_stream("127.0.0.1", f.echo_port(), 5s));
        REQUIRE_MESSAGE(first, first.error().text());
        REQUIRE(sync_wait(f.reactor, write_pattern(&*first, kSize)));
        CHECK(f.pool->stats().busy == 1);
        CHECK(first->linger());
        CHECK_FALSE(first->linger());  // once
        CHECK(f.pool->stats().idle == 1);
        CHECK(f.pool->stats().busy == 0);

        auto second = sync_wait(f.reactor, open_and_echo(&f, 5000));
        REQUIRE_MESSAGE(second, second.error().text());
        CHECK(second->session_seq() == first->session_seq());
        CHECK(f.pool->stats().warm_opens == 1);
        CHECK(f.pool->stats().busy == 1);

        // The first stream's answer still arrives, byte for byte, beside the second stream.
        auto drained = sync_wait(f.reactor, read_echo(&*first, kSize));
        CHECK_MESSAGE(drained, drained.error().text());
        REQUIRE(sync_wait(f.reactor, first->close()));
        CHECK(f.pool->stats().busy ==
              1);  // closing the lingering stream leaves the second's session busy
        REQUIRE(sync_wait(f.reactor, second->close()));
        auto stats = f.pool->stats();
        CHECK(stats.idle == 1);
        CHECK(stats.busy == 0);
        CHECK(stats.created_total == 1);
        CHECK(stats.closed_error == 0);

        // And the session still carries streams afterwards.
        auto third = sync_wait(f.reactor, echo_and_close(&f, 3000));
        REQUIRE(third);
        CHECK(*third == first->session_seq());
    }

    TEST_CASE("a lingering stream keeps a session the pool would close: session-reuse = false") {
        auto settings = base_settings();
        settings.session_reuse = false;
        Fixture f(settings);
        auto first = sync_wait(f.reactor, f.pool->open_stream("127.0.0.1", f.echo_port(), 5s));
        REQUIRE_MESSAGE(first, first.error().text());
        REQUIRE(sync_wait(f.reactor, write_pattern(&*first, 1000)));
        CHECK_FALSE(first->linger());
        CHECK(f.pool->stats().busy == 1);
        auto drained = sync_wait(f.reactor, read_echo(&*first, 1000));
        CHECK_MESSAGE(drained, drained.error().text());
        REQUIRE(sync_wait(f.reactor, first->close()));
        CHECK(f.pool->stats().closed_no_reuse == 1);
    }

    TEST_CASE("a lingering stream fails cleanly when its session is closed under it") {
        Fixture f;
        auto first = sync_wait(f.reactor, f.pool->open_stream("127.0.0.1", f.echo_port(), 5s));
        REQUIRE_MESSAGE(first, first.error().text());
        REQUIRE(first->linger());
        CHECK(f.pool->reset() == 1);  // the session is idle as far as the pool knows
        std::vector<std::byte> buf(100);
        auto n = sync_wait(f.reactor, first->read(buf, 5s));
        REQUIRE_FALSE(n);
        CHECK(n.code() == errc::closed);
        CHECK(sync_wait(f.reactor, first->close()));
        CHECK(f.pool->stats().closed_reset == 1);
        CHECK(f.pool->stats().closed_error == 0);
    }

    TEST_CASE("reset closes every idle session and leaves busy ones alone") {
        Fixture f;
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 3)));
        auto busy = sync_wait(f.reactor, open_and_echo(&f, 10));
        REQUIRE(busy);
        CHECK(f.pool->reset() == 2);
        auto stats = f.pool->stats();
        CHECK(stats.closed_reset == 2);
        CHECK(stats.busy == 1);
        REQUIRE(sync_wait(f.reactor, busy->close()));
        CHECK(f.pool->stats().idle == 1);
    }

    TEST_CASE("failed creations are counted and back off; the pool recovers at the rate") {
        auto settings = base_settings();
        settings.ensure_idle_session = 2;
        settings.creation_backoff_max = 60s;
        Fixture f(settings, false, true);  // nobody listens where the pool dials
        f.cycle_and_settle();
        CHECK(f.pool->stats().creation_failures == 2);
        f.pool->run_cycle();  // the clock has not moved: backing off
        CHECK(f.pool->creating() == 0);
        const auto lines = f.log_lines();
        CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
            return l.find("backing off") != std::string::npos;
        }));
        f.clock.advance(61s);
        f.cycle_and_settle();
        CHECK(f.pool->stats().creation_failures == 4);
    }

    TEST_CASE("a dead pooled session is retried transparently on a fresh one") {
        Fixture f(base_settings(), true);
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 1)));
        f.relay.stall_all();  // the idle session's path now swallows everything
        auto t0 = std::chrono::steady_clock::now();
        auto s = sync_wait(f.reactor, echo_and_close(&f, 3000));
        REQUIRE_MESSAGE(s, s.error().text());
        CHECK(*s == 2);  // a fresh session
        auto stats = f.pool->stats();
        CHECK(stats.retried_opens == 1);
        CHECK(stats.closed_error == 1);
        CHECK(std::chrono::steady_clock::now() - t0 < 4s);
    }

    TEST_CASE("heartbeat: a silently dead idle session is detected and closed before use") {
        auto settings = base_settings();
        settings.heartbeat_interval = 5s;
        settings.heartbeat_timeout = 300ms;
        Fixture f(settings, true);
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 1)));
        // Healthy: a heartbeat is answered and the session stays.
        f.clock.advance(6s);
        f.pool->run_cycle();
        REQUIRE(f.run_until(
            [&] { return f.pool->stats().closed_heartbeat == 0 && f.reactor.live_tasks() <= 8; },
            2s));
        f.run_until([&] { return false; }, 500ms);
        CHECK(f.pool->stats().closed_heartbeat == 0);
        CHECK(f.pool->stats().idle == 1);
        // Dead path: detected within interval + timeout.
        f.relay.stall_all();
        f.clock.advance(6s);
        f.pool->run_cycle();
        REQUIRE(f.run_until([&] { return f.pool->stats().closed_heartbeat == 1; }, 3s));
        CHECK(f.pool->stats().idle == 0);
        const auto lines = f.log_lines();
        CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
            return l.find("Heartbeat failed on session #1") != std::string::npos;
        }));
        // The next stream gets a fresh session (no retry was needed).
        auto s = sync_wait(f.reactor, echo_and_close(&f, 100));
        REQUIRE(s);
        CHECK(*s == 2);
        CHECK(f.pool->stats().retried_opens == 0);
    }

    TEST_CASE(
        "a SYN on a session idle for seconds carries a heartbeat; a dead path is left within the "
        "hedge") {
        auto settings = base_settings();
        settings.heartbeat_interval = 0s;  // only the probe that goes with the SYN
        Fixture f(settings, true);
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 1)));
        f.clock.advance(3s);  // idle longer than kProbeIdleAfter
        f.relay.stall_all();  // a NAT dropped the path: nothing passes, nobody says so
        auto s = sync_wait(f.reactor, echo_and_close(&f, 3000));
        REQUIRE_MESSAGE(s, s.error().text());
        CHECK(*s == 2);  // the stream moved to a fresh session, its bytes with it
        CHECK(f.pool->stats().retried_opens == 1);
        // The hedge closed the silent session, not the (1 s) SYNACK timeout.
        const auto lines = f.log_lines();
        CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
            return l.find(
                       "Session #1 closed: the session answered neither the SYN nor the "
                       "heartbeat") != std::string::npos;
        }));
    }

    TEST_CASE("a live session answers the heartbeat sent with its SYN: the stream stays on it") {
        auto settings = base_settings();
        settings.heartbeat_interval = 0s;
        Fixture f(settings, true);
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 1)));
        f.clock.advance(3s);
        auto s = sync_wait(f.reactor, echo_and_close(&f, 3000));
        REQUIRE_MESSAGE(s, s.error().text());
        CHECK(*s == 1);
        CHECK(f.pool->stats().retried_opens == 0);
        CHECK(f.pool->stats().closed_error == 0);
    }

    TEST_CASE("a session that dies after the SYNACK fails its stream: it is never replayed") {
        Fixture f(base_settings(), true);
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 1)));
        auto s =
            sync_wait(f.reactor, open_and_echo(&f, 3000));  // the SYNACK and the echo came back
        REQUIRE_MESSAGE(s, s.error().text());
        f.relay.cut_all();
        (void)sync_wait(f.reactor, write_pattern(&*s, 100));  // may or may not see the cut yet
        std::vector<std::byte> buf(100);
        auto n = sync_wait(f.reactor, s->read(buf, 5s));
        CHECK_FALSE((n && *n > 0));
        CHECK(f.pool->stats().retried_opens == 0);
        CHECK_FALSE(s->replayed());
        (void)sync_wait(f.reactor, s->close());
    }

    TEST_CASE("the pool warms at once when it starts, and again right after a reset") {
        auto settings = base_settings();
        settings.ensure_idle_session = 3;
        settings.idle_session_check_interval = std::chrono::hours(1);  // no later cycle could do it
        Fixture f(settings);
        f.pool->start();
        REQUIRE(f.run_until([&] { return f.pool->stats().idle == 3; }));
        CHECK(f.logged(
            "[AnyTLS] Proactive pool maintenance: current=0, target=3, creating 3 sessions"));
        CHECK(f.pool->reset() == 3);
        CHECK(f.pool->stats().creating == 3);  // the reset's own cycle started them
        REQUIRE(f.run_until([&] { return f.pool->stats().idle == 3; }));
        CHECK(f.pool->stats().created_total == 6);
    }

    TEST_CASE(
        "a pre-warmed session that never carried a stream is hedged too, once the server is known "
        "v2") {
        auto settings = base_settings();
        settings.heartbeat_interval = 0s;
        Fixture f(settings, true);
        REQUIRE(sync_wait(f.reactor, make_idle_sessions(&f, 1)));  // #1 says v2 to the pool
        auto warmer = settings;
        warmer.ensure_idle_session = 2;
        f.pool->set_settings(warmer);
        f.cycle_and_settle();  // #2, proactive: no stream yet, so it has not said v2 itself
        REQUIRE(f.pool->stats().idle == 2);
        f.clock.advance(3s);
        f.relay.stall_all();
        auto s = sync_wait(f.reactor, echo_and_close(&f, 3000));
        REQUIRE_MESSAGE(s, s.error().text());
        CHECK(*s == 3);  // #2 (the newest idle) was dead; the stream moved, bytes and all
        CHECK(f.pool->stats().retried_opens == 1);
        const auto lines = f.log_lines();
        CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) {
            return l.find(
                       "Session #2 closed: the session answered neither the SYN nor the "
                       "heartbeat") != std::string::npos;
        }));
    }

    TEST_CASE(
        "a stream the server ends before its SYNACK (its stream limit) moves to a fresh session") {
        // The server takes one stream per session: the first one, draining, holds the slot.
        Fixture f(base_settings(), false, false, 1);
        auto first = sync_wait(f.reactor, f.pool->open_stream("127.0.0.1", f.echo_port(), 5s));
        REQUIRE_MESSAGE(first, first.error().text());
        REQUIRE(sync_wait(f.reactor, write_pattern(&*first, 1000)));
        REQUIRE(first->linger());  // its session goes back to the pool while it drains
        auto second = sync_wait(f.reactor, open_and_echo(&f, 5000));
        REQUIRE_MESSAGE(second, second.error().text());
        CHECK(second->replayed());
        CHECK(second->session_seq() != first->session_seq());
        CHECK(f.pool->stats().retried_opens == 1);
        CHECK(f.pool->stats().closed_error == 0);  // the refusing session was fine, and stays
        auto drained = sync_wait(f.reactor, read_echo(&*first, 1000));
        CHECK_MESSAGE(drained, drained.error().text());
        REQUIRE(sync_wait(f.reactor, first->close()));
        REQUIRE(sync_wait(f.reactor, second->close()));
        CHECK(f.pool->stats().idle == 2);
    }

    // Resumes the coroutine on the reactor's next pass over its ready queue.
    struct YieldToReactor {
        Reactor* reactor;
        bool await_ready() const noexcept { return false; }
        void await_suspend(std::coroutine_handle<> h) { reactor->schedule(h); }
        void await_resume() const noexcept {}
    };

    // Polls the pool on every pass of the reactor, and opens a stream the moment a session is
    // idle: between a creation's end and the resumption of the open that asked for it.
    Task<Result<client::PooledStream>> open_when_idle(Fixture * f) {
        for (int i = 0; i < 1000000 && f->pool->stats().idle == 0; ++i)
            co_await YieldToReactor{&f->reactor};
        co_return co_await f->pool->open_stream("127.0.0.1", f->echo_port(), 5s);
    }

    Task<Result<client::PooledStream>> open_now(Fixture * f) {
        co_return co_await f->pool->open_stream("127.0.0.1", f->echo_port(), 5s);
    }

    TEST_CASE("a session that a creation made for one open goes to that open, not to the next") {
        // The first open's creation ends while the second open looks for an idle session: the
        // second must not take it (the first would then find it busy: "already carries a stream").
        auto settings = base_settings();
        settings.ensure_idle_session = 0;
        Fixture f(settings);
        std::optional<Result<client::PooledStream>> first, second;
        auto keep = [](std::optional<Result<client::PooledStream>>* out,
                       Task<Result<client::PooledStream>> t) -> Task<void> {
            out->emplace(co_await std::move(t));
        };
        f.reactor.spawn(keep(&first, open_now(&f)));
        f.reactor.spawn(keep(&second, open_when_idle(&f)));
        REQUIRE(f.run_until([&] { return first && second; }));
        REQUIRE_MESSAGE(*first, first->error().text());
        REQUIRE_MESSAGE(*second, second->error().text());
        CHECK((*first)->session_seq() != (*second)->session_seq());
        REQUIRE(sync_wait(f.reactor, (*first)->close()));
        REQUIRE(sync_wait(f.reactor, (*second)->close()));
    }

}  // TEST_SUITE

TEST_SUITE("client") {
    TEST_CASE(
        "a creation that the pool's shutdown cancels is not a failure: not counted, not logged") {
        Reactor reactor;
        // A server that accepts TCP (the kernel does, from the backlog) and never answers TLS.
        auto silent = TcpListener::listen(SocketAddress::loopback_v4(0));
        REQUIRE(silent);
        session::ClientConfig cc;
        cc.server_host = "127.0.0.1";
        cc.server_port = silent->address().port();
        cc.password = kPassword;
        cc.ca_file = test::test_pki().ca_cert;
        std::atomic<std::uint64_t> sequence{0};
        ManualClock clock{TimePoint{} + std::chrono::hours(1000)};
        auto pool = std::make_unique<client::SessionPool>(
            reactor, "test-proxy", cc, base_settings(), std::make_shared<session::PaddingState>(),
            &sequence, &clock, 42);
        std::vector<std::string> lines;
        log::set_level(log::Level::debug);
        log::set_sink([&](log::Level, std::string_view line) { lines.emplace_back(line); });
        std::optional<Result<client::PooledStream>> opened;
        auto keep = [](std::optional<Result<client::PooledStream>>* out,
                       Task<Result<client::PooledStream>> t) -> Task<void> {
            out->emplace(co_await std::move(t));
        };
        reactor.spawn(keep(&opened, pool->open_stream("127.0.0.1", 9, 30s)));
        for (int i = 0; i < 1000 && pool->creating() == 0; ++i) reactor.run_once(false);
        REQUIRE(pool->creating() == 1);
        sync_wait(reactor, pool->shutdown());
        for (int i = 0; i < 1000 && !opened; ++i) reactor.run_once(true);
        log::set_sink({});
        log::set_level(log::Level::info);
        REQUIRE(opened);
        CHECK_FALSE(*opened);
        CHECK(pool->stats().creation_failures == 0);
        CHECK(std::none_of(lines.begin(), lines.end(), [](const std::string& l) {
            return l.find("Session creation") != std::string::npos;
        }));
    }

}  // TEST_SUITE
