// Connection faults injected by a relay the test controls (tests/support/fault_relay.hpp,
// docs/RELIABILITY.md): a TCP reset at many points of the TLS handshake, a path that stalls (bytes
// stop, no FIN) under a busy session, and a reset in the middle of a transfer. The client must fail
// with a clear error, leak nothing (fds and tasks back to their baseline), and the pool must
// replace the broken session. Pool time runs on a ManualClock.
#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "client/session_pool.hpp"
#include "log/log.hpp"
#include "reliability/reliability_support.hpp"
#include "support/fault_relay.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

config::PoolSettings pool_settings() {
    config::PoolSettings s;
    s.idle_session_check_interval = 1s;
    s.idle_session_timeout = 600s;
    return s;
}

std::unique_ptr<client::SessionPool> make_pool(test::ServerEnvironment& env, std::uint16_t port,
                                               config::PoolSettings settings, ManualClock* clock,
                                               std::atomic<std::uint64_t>* sequence) {
    auto cc = env.client_config(port);
    cc.synack_timeout = 2s;
    return std::make_unique<client::SessionPool>(env.reactor, "faults", cc, settings, env.padding,
                                                 sequence, clock, 7);
}

}  // namespace

TEST_SUITE("reliability.connection_faults") {
    TEST_CASE(
        "a reset during the TLS handshake fails the open with a clear error; nothing leaks; the "
        "next open works") {
        test::LogCapture logs;
        test::ServerEnvironment env;
        test::FaultRelay relay(env.reactor, env.server->local_address());
        REQUIRE(relay.listening());
        // Warm up (PKI files, first handshake) before taking the baseline.
        REQUIRE(sync_wait(env.reactor, test::session_echo(&env, relay.port(), 1, 1, 200 * 1000)) ==
                std::string());
        REQUIRE(env.run_until([&] { return relay.finished() == relay.accepted(); }));
        env.run_until([] { return false; }, 300ms);  // let the warm-up's tasks unwind
        const std::size_t fds = test::open_fd_count();
        const std::size_t tasks = env.reactor.live_tasks();

        struct Point {
            bool to_client;
            std::size_t after;
        };
        // Server -> client: before anything, inside the ServerHello, inside the encrypted flight.
        // Client -> server: before and inside the ClientHello.
        const std::vector<Point> points = {{true, 0},   {true, 1},  {true, 7},   {true, 60},
                                           {true, 200}, {false, 0}, {false, 10}, {false, 100}};
        for (const auto& point : points) {
            relay.clear_faults();
            if (point.to_client)
                relay.reset_after_to_client(point.after);
            else
                relay.reset_after_to_server(point.after);
            auto opened = sync_wait(
                env.reactor, session::open_session(env.reactor, env.client_config(relay.port()),
                                                   env.padding, 100 + point.after));
            ++test::figures().faults;
            REQUIRE_FALSE(opened);
            const std::string text = opened.error().text();
            MESSAGE("reset after " << point.after << " bytes "
                                   << (point.to_client ? "to the client" : "to the server") << ": "
                                   << text);
            CHECK_FALSE(text.empty());
            CHECK(opened.error().code != -ETIMEDOUT);  // noticed at once, not after a timeout
        }
        CHECK(relay.resets() >= points.size());
        CHECK(env.server->stats().sessions_authenticated == 1);  // only the warm-up got in
        // Nothing leaks: every socket of every failed attempt is closed, every task ended.
        REQUIRE(env.run_until([&] { return relay.finished() == relay.accepted(); }));
        CHECK(env.run_until([&] { return test::open_fd_count() <= fds; }, 10s));
        CHECK(env.run_until([&] { return env.reactor.live_tasks() <= tasks; }, 10s));
        MESSAGE("fds " << test::open_fd_count() << " (baseline " << fds << "), tasks "
                       << env.reactor.live_tasks() << " (baseline " << tasks << ")");
        relay.clear_faults();
        CHECK(sync_wait(env.reactor, test::session_echo(&env, relay.port(), 2, 2, 200 * 1000)) ==
              std::string());
    }

    TEST_CASE(
        "a stalled path under a busy stream: the read times out, the heartbeat closes the session, "
        "a fresh one serves") {
        test::LogCapture logs;
        test::ServerEnvironment env;
        test::FaultRelay relay(env.reactor, env.server->local_address());
        auto settings = pool_settings();
        settings.heartbeat_interval = 5s;
        settings.heartbeat_timeout = 500ms;
        ManualClock clock{TimePoint{} + std::chrono::hours(10)};
        std::atomic<std::uint64_t> sequence{0};
        auto pool = make_pool(env, relay.port(), settings, &clock, &sequence);

        struct Steps {
            static Task<std::string> stalled_stream(test::ServerEnvironment* env,
                                                    client::SessionPool* pool,
                                                    test::FaultRelay* relay, std::uint64_t* seq) {
                auto stream = co_await pool->open_stream("127.0.0.1", env->echo_port(), 5s);
                if (!stream) co_return "open: " + stream.error().text();
                *seq = stream->session_seq();
                auto data = test::random_bytes(3, 30000);
                auto w = co_await stream->write(data, 5s);
                if (!w) co_return "write: " + w.error().text();
                std::vector<std::byte> back(30000);
                std::size_t got = 0;
                while (got < back.size()) {
                    auto n = co_await stream->read(std::span<std::byte>(back).subspan(got), 5s);
                    if (!n || *n == 0) co_return "first read failed";
                    got += *n;
                }
                if (back != data) co_return "echo differs";
                test::figures().bytes_verified += data.size();
                ++test::figures().streams;
                relay->stall_all();  // bytes stop both ways, no FIN, no reset
                ++test::figures().faults;
                auto w2 = co_await stream->write(data, 5s);  // lands in socket buffers
                if (!w2) co_return "second write: " + w2.error().text();
                auto n = co_await stream->read(back, 1s);
                if (n) co_return "a read on a stalled path returned data";
                if (n.error().code != -ETIMEDOUT)
                    co_return "expected a timeout, got " + n.error().text();
                auto closed = co_await stream->close();  // the FIN also lands in a buffer
                (void)closed;
                co_return std::string();
            }
        };
        std::uint64_t stalled_seq = 0;
        CHECK(sync_wait(env.reactor, Steps::stalled_stream(&env, pool.get(), &relay,
                                                           &stalled_seq)) == std::string());
        CHECK(pool->stats().idle == 1);  // it looks healthy from here
        clock.advance(6s);
        pool->run_cycle();
        REQUIRE(env.run_until([&] { return pool->stats().closed_heartbeat == 1; }, 5s));
        CHECK(pool->stats().idle == 0);
        CHECK(logs.any("Heartbeat failed on session #" + std::to_string(stalled_seq)));
        // A fresh session (through a healthy new path) serves the next stream.
        std::uint64_t fresh_seq = 0;
        CHECK(sync_wait(env.reactor, test::pooled_echo(pool.get(), env.echo_port(), 4, 100000,
                                                       &fresh_seq)) == std::string());
        CHECK(fresh_seq > stalled_seq);
        sync_wait(env.reactor, pool->shutdown());
        relay.stop();
    }

    TEST_CASE(
        "a reset in the middle of transfers: every stream fails with an error (never a clean end), "
        "the pool replaces the sessions") {
        test::LogCapture logs;
        test::ServerEnvironment env;
        test::FaultRelay relay(env.reactor, env.server->local_address());
        ManualClock clock{TimePoint{} + std::chrono::hours(10)};
        std::atomic<std::uint64_t> sequence{0};
        auto settings = pool_settings();
        settings.ensure_idle_session = 3;
        auto pool = make_pool(env, relay.port(), settings, &clock, &sequence);
        pool->run_cycle();
        REQUIRE(env.run_until([&] { return pool->creating() == 0 && pool->stats().idle == 3; }));

        std::vector<test::EchoTransfer> transfers(3);
        for (int i = 0; i < 3; ++i)
            env.reactor.spawn(test::echo_until_failure(pool.get(), env.echo_port(), &transfers[i],
                                                       i * 1000003, 100000));
        REQUIRE(env.run_until(
            [&] {
                for (auto& t : transfers)
                    if (t.verified < 256 * 1024) return false;
                return true;
            },
            20s));
        relay.cut_all();
        test::figures().faults += 3;
        REQUIRE(env.run_until(
            [&] {
                for (auto& t : transfers)
                    if (!t.ended) return false;
                return true;
            },
            15s));
        for (auto& t : transfers) {
            CHECK_FALSE(t.clean_end);
            CHECK_FALSE(t.error.empty());
            MESSAGE("stream ended after " << t.verified << " verified bytes: " << t.error);
            test::figures().bytes_verified += t.verified;
            ++test::figures().streams;
        }
        REQUIRE(env.run_until([&] { return pool->stats().closed_error >= 3; }));
        // Sessions that die within seconds of creation count as failed creations (backoff).
        clock.advance(61s);
        pool->run_cycle();  // replaces them (ensure 3, no rate limit)
        REQUIRE(env.run_until([&] { return pool->creating() == 0 && pool->stats().idle == 3; }));
        CHECK(sync_wait(env.reactor, test::session_echo(&env, relay.port(), 9, 9, 200 * 1000)) ==
              std::string());
        sync_wait(env.reactor, pool->shutdown());
        relay.stop();
    }

}  // TEST_SUITE
