// The pool end to end, in real time, against the `anytls server` process: a client
// with ensure 5, rate 2, lifetime 8s, jitter 2s, idle timeout 2s and check interval 1s opens
// streams for at least 14 s while the pool fills, rotates and cleans up. The debug log is
// captured and checked for the three kinds of cleanup lines.
//
// The schedule is chosen so each cleanup kind must happen whatever the machine's load: the
// burst at 4 s leaves 12 idle sessions, 7 of them created on demand at 4 s (lifetime >= 6 s,
// so not aged before 10 s) that time out as idle at ~6.5 s with only 5 protected. The loop
// keeps going (up to 40 s) until rotation and idle cleanup have both been seen, so a slow
// machine only makes the test longer, not red.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <random>
#include <regex>
#include <thread>

#include "client/client.hpp"
#include "io/reactor_thread.hpp"
#include "io/tcp.hpp"
#include "log/log.hpp"
#include "support/echo_service.hpp"
#include "support/server_process.hpp"
#include "support/test_certs.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

TEST_SUITE("client") {
    TEST_CASE(
        "end to end: the pool fills at the rate, rotates by age, cleans idle sessions; every "
        "stream succeeds") {
        const char* exe = std::getenv("ANYTLS_EXE");
        REQUIRE_MESSAGE(exe, "ANYTLS_EXE must name the anytls binary (meson sets it)");
        const auto& pki = test::test_pki();
        std::string server_toml = pki.dir + "/e2e-server.toml";
        std::ofstream(server_toml) << "listen = \"127.0.0.1:0\"\ncertificate = \""
                                   << pki.server_cert << "\"\nprivate-key = \"" << pki.server_key
                                   << "\"\nlog-level = \"warning\"\n[[users]]\nname = "
                                      "\"e2e\"\npassword = \"e2e password\"\n";
        test::ServerProcess server;
        std::string why;
        REQUIRE_MESSAGE(server.start(exe, server_toml, &why), why);

        ReactorThread echo_thread;
        TcpListener echo;
        echo_thread.call([&] {
            auto l = TcpListener::listen(SocketAddress::loopback_v4(0));
            REQUIRE(l);
            echo = std::move(l).value();
            echo_thread.reactor().spawn(test::echo_accept_loop(&echo_thread.reactor(), &echo));
        });

        std::mutex lines_mutex;
        std::vector<std::string> lines;
        log::set_sink([&](log::Level level, std::string_view line) {
            if (level != log::Level::debug) return;
            std::lock_guard lock(lines_mutex);
            lines.emplace_back(line);
        });
        std::string client_toml =
            "log-level = \"debug\"\n[[proxies]]\nname = \"e2e\"\ntype = \"anytls\"\n"
            "server = \"127.0.0.1\"\nport = " +
            std::to_string(server.port()) +
            "\npassword = \"e2e password\"\nsni = \"localhost\"\nca-file = \"" + pki.ca_cert +
            "\"\n[proxies.session-override]\nensure-idle-session = 5\n"
            "ensure-idle-session-create-rate = 2\nmax-connection-lifetime = \"8s\"\n"
            "connection-lifetime-jitter = \"2s\"\nidle-session-timeout = \"2s\"\n"
            "idle-session-check-interval = \"1s\"\n";
        {
            auto client = client::Client::from_toml(client_toml);
            REQUIRE_MESSAGE(client, client.error().text());
            std::mutex rng_mutex;
            std::mt19937_64 rng(99);
            std::atomic<int> streams{0}, failures{0};
            // One stream: random bytes echoed and verified; `hold` keeps it open a while.
            auto one_stream = [&](std::chrono::milliseconds hold) {
                std::vector<std::byte> data;
                {
                    std::lock_guard lock(rng_mutex);
                    data.resize(1 + rng() % 20000);
                    for (auto& b : data) b = std::byte{static_cast<unsigned char>(rng())};
                }
                bool ok = false;
                auto s = client.value()->open_stream("e2e", "127.0.0.1", echo.address().port(), 5s);
                if (s && s.value()->write(data, 5s)) {
                    std::vector<std::byte> back, buf(65536);
                    while (back.size() < data.size()) {
                        auto n = s.value()->read(buf, 5s);
                        if (!n || *n == 0) break;
                        back.insert(back.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
                    }
                    ok = back == data;
                    std::this_thread::sleep_for(hold);
                }
                if (s) (void)s.value()->close();
                ++streams;
                failures += !ok;
            };
            std::size_t max_idle = 0;
            bool burst_done = false;
            auto start = std::chrono::steady_clock::now();
            auto rotated_and_cleaned = [&] {
                auto s = client.value()->stats("e2e");
                return s && s->closed_age > 0 && s->closed_idle > 0;
            };
            for (;;) {
                auto elapsed = std::chrono::steady_clock::now() - start;
                if (elapsed > 40s || (elapsed >= 14s && rotated_and_cleaned())) break;
                if (!burst_done && elapsed > 4s) {
                    // A burst of 12 concurrent streams leaves more idle sessions than the target:
                    // idle cleanup must close the surplus once it has been idle for 2 s.
                    std::vector<std::thread> burst;
                    for (int i = 0; i < 12; ++i) burst.emplace_back(one_stream, 500ms);
                    for (auto& t : burst) t.join();
                    burst_done = true;
                }
                one_stream(0ms);
                auto stats = client.value()->stats("e2e");
                if (stats) max_idle = std::max(max_idle, stats->idle);
                std::this_thread::sleep_for(250ms);
            }
            auto stats = client.value()->stats("e2e");
            REQUIRE(stats);
            MESSAGE("streams " << streams.load() << ", created " << stats->created_total
                               << ", closed idle " << stats->closed_idle << ", closed age "
                               << stats->closed_age << ", warm " << stats->warm_opens << ", cold "
                               << stats->cold_opens);
            CHECK(failures == 0);
            CHECK(streams >= 30);
            CHECK(max_idle >= 5);           // the pool filled
            CHECK(stats->closed_age > 0);   // sessions rotated
            CHECK(stats->closed_idle > 0);  // idle cleanup ran
            CHECK(stats->warm_opens > stats->cold_opens);
        }
        log::set_sink({});
        log::set_level(log::Level::info);
        echo_thread.call([&] { echo.close(); });

        std::regex proactive(
            "\\[AnyTLS\\] Proactive pool maintenance: current=\\d+, target=5, creating (\\d+) "
            "sessions");
        bool saw_idle = false, saw_age = false, saw_proactive = false, saw_created = false;
        for (const auto& l : lines) {
            std::smatch m;
            if (std::regex_search(l, m, proactive)) {
                saw_proactive = true;
                CHECK(std::stoi(m[1].str()) <= 2);  // never more than the rate in one cycle
            }
            saw_idle |= l.rfind("[AnyTLS] Idle cleanup: found ", 0) == 0;
            saw_age |= l.rfind("[AnyTLS] Age cleanup: closing ", 0) == 0;
            saw_created |= l.rfind("[AnyTLS] Created proactive session #", 0) == 0;
        }
        CHECK(saw_proactive);
        CHECK(saw_created);
        CHECK(saw_idle);
        CHECK(saw_age);
    }

}  // TEST_SUITE
