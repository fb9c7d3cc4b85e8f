// The real `anytls server` process is killed (SIGKILL) in the middle of transfers
// (docs/RELIABILITY.md): every stream gets an error within its timeout and none hangs; while the
// server is down the pool's creations fail and back off; once the server is back on the same port
// the pool refills at its configured rate (ensure 4, rate 2: two cycles), read from its debug
// lines. The pool's decisions run on a ManualClock; the test runs the cycles itself.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "client/session_pool.hpp"
#include "log/log.hpp"
#include "reliability/reliability_support.hpp"
#include "support/server_process.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

std::string write_server_config(const std::string& name, const std::string& listen) {
    const auto& pki = test::test_pki();
    const std::string path = pki.dir + "/" + name;
    std::ofstream(path) << "listen = \"" << listen << "\"\ncertificate = \"" << pki.server_cert
                        << "\"\nprivate-key = \"" << pki.server_key
                        << "\"\nlog-level = \"warning\"\n[[users]]\nname = \"kill\"\npassword = \""
                        << test::kReliabilityPassword << "\"\n";
    return path;
}

}  // namespace

TEST_SUITE("reliability.server_kill") {
    TEST_CASE(
        "SIGKILL of the server mid-transfer: every stream errors in time; the pool refills at its "
        "rate once it is back") {
        const char* exe = std::getenv("ANYTLS_EXE");
        REQUIRE_MESSAGE(exe, "ANYTLS_EXE must name the anytls binary (meson sets it)");
        test::LogCapture logs;
        // The in-process parts: an echo target and the pool (no in-process AnyTLS server is used).
        test::ServerEnvironment env;
        test::ServerProcess first;
        std::string error;
        REQUIRE_MESSAGE(first.start(exe, write_server_config("kill-1.toml", "127.0.0.1:0"), &error),
                        error);
        const std::uint16_t port = first.port();

        config::PoolSettings settings;
        settings.idle_session_check_interval = 1s;
        settings.idle_session_timeout = 600s;
        settings.ensure_idle_session = 4;
        settings.ensure_idle_session_create_rate = 2;
        settings.creation_backoff_max = 8s;
        ManualClock clock{TimePoint{} + std::chrono::hours(10)};
        std::atomic<std::uint64_t> sequence{0};
        auto cc = env.client_config(port);
        cc.synack_timeout = 2s;
        client::SessionPool pool(env.reactor, "kill", cc, settings, env.padding, &sequence, &clock,
                                 3);
        auto settle = [&] { REQUIRE(env.run_until([&] { return pool.creating() == 0; }, 20s)); };
        pool.run_cycle();
        settle();
        pool.run_cycle();
        settle();
        REQUIRE(pool.stats().idle == 4);
        clock.advance(10s);  // the sessions are past the early-death window

        std::vector<test::EchoTransfer> transfers(4);
        for (int i = 0; i < 4; ++i)
            env.reactor.spawn(
                test::echo_until_failure(&pool, env.echo_port(), &transfers[i], i * 7919, 1000000));
        REQUIRE(env.run_until(
            [&] {
                for (auto& t : transfers)
                    if (t.verified < 128 * 1024 && !t.ended) return false;
                return true;
            },
            30s));
        for (auto& t : transfers) REQUIRE_MESSAGE(!t.ended, t.error);
        first.kill(SIGKILL);
        const auto killed_at = std::chrono::steady_clock::now();
        ++test::figures().faults;
        // Every stream ends, with an error, within its 5 s timeout (plus scheduling slack).
        REQUIRE(env.run_until(
            [&] {
                for (auto& t : transfers)
                    if (!t.ended) return false;
                return true;
            },
            20s));
        std::size_t bytes = 0;
        for (auto& t : transfers) {
            CHECK_FALSE(t.clean_end);
            CHECK_FALSE(t.error.empty());
            CHECK(t.ended_at - killed_at < 5s + 3s);
            MESSAGE("stream ended after " << t.verified << " verified bytes: " << t.error);
            bytes += t.verified;
            ++test::figures().streams;
        }
        test::figures().bytes_verified += bytes;
        REQUIRE(env.run_until([&] { return pool.stats().closed_error == 4; }));

        // Down: a cycle tries the rate (2), both fail, and the pool backs off.
        pool.run_cycle();
        settle();
        CHECK(pool.stats().creation_failures == 2);
        CHECK(pool.stats().idle == 0);
        pool.run_cycle();
        CHECK(pool.creating() == 0);  // backing off, nothing tried

        // Back on the same port; the pool refills at 2 per cycle once the backoff has passed.
        test::ServerProcess second;
        REQUIRE_MESSAGE(
            second.start(exe,
                         write_server_config("kill-2.toml", "127.0.0.1:" + std::to_string(port)),
                         &error),
            error);
        CHECK(second.port() == port);
        clock.advance(9s);
        logs.lines.clear();
        pool.run_cycle();
        settle();
        CHECK(pool.stats().idle == 2);
        CHECK(logs.logged(
            "[AnyTLS] Proactive pool maintenance: current=0, target=4, creating 2 sessions"));
        clock.advance(1s);
        pool.run_cycle();
        settle();
        CHECK(pool.stats().idle == 4);
        CHECK(logs.logged(
            "[AnyTLS] Proactive pool maintenance: current=2, target=4, creating 2 sessions"));
        CHECK(sync_wait(env.reactor, test::pooled_echo(&pool, env.echo_port(), 77, 300000)) ==
              std::string());
        sync_wait(env.reactor, pool.shutdown());
        second.kill(SIGTERM);
    }

}  // TEST_SUITE
