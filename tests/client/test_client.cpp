// Client: the thread-safe face of the pools. A real AnyTLS server and an echo target run on a
// reactor thread of their own; the test's threads call the Client as an embedding program
// would, with blocking calls.
#include <doctest/doctest.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <vector>
#include <thread>

#include "base/errors.hpp"
#include "client/client.hpp"
#include "io/reactor_thread.hpp"
#include "io/tcp.hpp"
#include "log/log.hpp"
#include "server/server.hpp"
#include "support/echo_service.hpp"
#include "support/test_certs.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

// The far side: an AnyTLS server and an echo target on their own reactor thread.
struct FarSide {
    FarSide() {
        thread.call([this] {
            const auto& pki = test::test_pki();
            server::ServerConfig sc;
            sc.listen = "127.0.0.1:0";
            sc.certificate_file = pki.server_cert;
            sc.private_key_file = pki.server_key;
            sc.users = {{"user", "client-test-password"}};
            auto created = server::Server::create(thread.reactor(), sc);
            REQUIRE(created);
            server = std::move(created).value();
            REQUIRE(server->start());
            auto l = TcpListener::listen(SocketAddress::loopback_v4(0));
            REQUIRE(l);
            echo = std::move(l).value();
            thread.reactor().spawn(test::echo_accept_loop(&thread.reactor(), &echo));
        });
    }
    ~FarSide() {
        thread.call([this] {
            server->stop();
            echo.close();
        });
    }
    std::string client_toml(const std::string& extra_pool = "") const {
        return "log-level = \"warning\"\n"
               "[[proxies]]\nname = \"far\"\ntype = \"anytls\"\nserver = \"127.0.0.1\"\nport = " +
               std::to_string(server->local_address().port()) +
               "\npassword = \"client-test-password\"\nsni = \"localhost\"\nca-file = \"" +
               test::test_pki().ca_cert +
               "\"\n[proxies.session-override]\nidle-session-check-interval = \"1s\"\n" +
               extra_pool;
    }
    ReactorThread thread;
    std::unique_ptr<server::Server> server;
    TcpListener echo;
};

std::vector<std::byte> random_payload(std::mt19937_64& rng, std::size_t n) {
    std::vector<std::byte> v(n);
    for (auto& b : v) b = std::byte{static_cast<unsigned char>(rng())};
    return v;
}

bool echo_through(client::Stream& s, std::mt19937_64& rng, std::size_t size) {
    auto data = random_payload(rng, size);
    if (!s.write(data, 5s)) return false;
    std::vector<std::byte> back, buf(65536);
    while (back.size() < size) {
        auto n = s.read(buf, 5s);
        if (!n || *n == 0) return false;
        back.insert(back.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
    }
    return back == data;
}

}  // namespace

TEST_SUITE("client") {
    TEST_CASE(
        "each Client logs at its own level to its own sink; opening another changes neither") {
        FarSide far;
        struct Captured {
            std::mutex mutex;
            std::vector<std::pair<log::Level, std::string>> lines;
            log::Sink sink() {
                return [this](log::Level level, std::string_view line) {
                    std::lock_guard lock(mutex);
                    lines.emplace_back(level, std::string(line));
                };
            }
            bool has(std::string_view text) {
                std::lock_guard lock(mutex);
                for (const auto& [level, line] : lines)
                    if (line.find(text) != std::string::npos) return true;
                return false;
            }
            bool has_level(log::Level wanted) {
                std::lock_guard lock(mutex);
                for (const auto& [level, line] : lines)
                    if (level == wanted) return true;
                return false;
            }
        } a_lines, b_lines;
        const log::Level process_level = log::level();
        std::string debug_toml = far.client_toml();
        debug_toml.replace(debug_toml.find("\"warning\""), 9, "\"debug\"");
        auto a = client::Client::from_toml(debug_toml);
        REQUIRE_MESSAGE(a, a.error().text());
        a.value()->logger().set_sink(a_lines.sink());
        // The second client's log-level (warning) used to become the process level, which
        // silenced the first client's debug lines.
        auto b = client::Client::from_toml(far.client_toml());
        REQUIRE_MESSAGE(b, b.error().text());
        b.value()->logger().set_sink(b_lines.sink());
        CHECK(a.value()->logger().level() == log::Level::debug);
        CHECK(b.value()->logger().level() == log::Level::warn);
        CHECK(log::level() == process_level);

        REQUIRE(a.value()->reset("far"));
        REQUIRE(b.value()->reset("far"));
        CHECK(a_lines.has("[AnyTLS] Pool reset for far"));
        CHECK_FALSE(b_lines.has("[AnyTLS] Pool reset for far"));
        CHECK_FALSE(b_lines.has_level(log::Level::debug));

        // A level set later on one client is that client's alone.
        b.value()->logger().set_level(log::Level::debug);
        REQUIRE(b.value()->reset("far"));
        CHECK(b_lines.has("[AnyTLS] Pool reset for far"));
        a.value()->logger().set_level(log::Level::error);
        CHECK(b.value()->logger().level() == log::Level::debug);
        CHECK(log::level() == process_level);
    }

    TEST_CASE("Client: blocking streams from the calling thread, warm reuse in the stats") {
        FarSide far;
        auto client = client::Client::from_toml(far.client_toml());
        REQUIRE_MESSAGE(client, client.error().text());
        auto& c = *client.value();
        CHECK(c.proxy_names() == std::vector<std::string>{"far"});
        std::mt19937_64 rng(1);
        for (int i = 0; i < 5; ++i) {
            auto s = c.open_stream("far", "127.0.0.1", far.echo.address().port(), 5s);
            REQUIRE_MESSAGE(s, s.error().text());
            CHECK(echo_through(*s.value(), rng, 10000 + i * 777));
            CHECK(s.value()->close());
        }
        auto stats = c.stats("far");
        REQUIRE(stats);
        CHECK(stats->streams_opened == 5);
        CHECK(stats->cold_opens == 1);
        CHECK(stats->warm_opens == 4);
        // The open latency histogram counts every open once, on the reactor's real clock.
        std::uint64_t histogram_count = 0;
        for (auto n : stats->open_latency_buckets) histogram_count += n;
        CHECK(histogram_count == 5);
        CHECK(stats->open_latency_seconds_sum > 0);
    }

    TEST_CASE("Client: 16 threads share one Client") {
        FarSide far;
        auto client = client::Client::from_toml(far.client_toml());
        REQUIRE(client);
        std::atomic<int> ok{0}, failed{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 16; ++t) {
            threads.emplace_back([&, t] {
                std::mt19937_64 rng(t);
                for (int i = 0; i < 10; ++i) {
                    auto s = client.value()->open_stream("far", "127.0.0.1",
                                                         far.echo.address().port(), 10s);
                    if (s && echo_through(*s.value(), rng, 1 + rng() % 50000))
                        ++ok;
                    else
                        ++failed;
                }
            });
        }
        for (auto& t : threads) t.join();
        CHECK(ok == 160);
        CHECK(failed == 0);
        auto stats = client.value()->stats("far");
        REQUIRE(stats);
        CHECK(stats->created_total <= 16);  // one stream per session, at most one per thread
    }

    TEST_CASE("Client: a stream as a file descriptor, driven by poll()") {
        FarSide far;
        auto client = client::Client::from_toml(far.client_toml());
        REQUIRE(client);
        auto s = client.value()->open_stream("far", "127.0.0.1", far.echo.address().port(), 5s);
        REQUIRE(s);
        auto fd = s.value()->into_fd();
        REQUIRE(fd);
        std::mt19937_64 rng(7);
        auto data = random_payload(rng, 300000);
        std::vector<std::byte> back;
        std::size_t sent = 0;
        auto deadline = std::chrono::steady_clock::now() + 10s;
        while (back.size() < data.size() && std::chrono::steady_clock::now() < deadline) {
            pollfd p{*fd, short(POLLIN | (sent < data.size() ? POLLOUT : 0)), 0};
            REQUIRE(::poll(&p, 1, 1000) >= 0);
            if ((p.revents & POLLOUT) && sent < data.size()) {
                ssize_t n = ::send(*fd, data.data() + sent,
                                   std::min<std::size_t>(65536, data.size() - sent), MSG_NOSIGNAL);
                if (n > 0) sent += std::size_t(n);
            }
            if (p.revents & POLLIN) {
                std::byte buf[65536];
                ssize_t n = ::recv(*fd, buf, sizeof(buf), 0);
                REQUIRE(n > 0);
                back.insert(back.end(), buf, buf + n);
            }
        }
        CHECK(back == data);
        ::close(*fd);
        // The relay notices the close and hands the session back.
        bool idle = false;
        for (int i = 0; i < 100 && !idle; ++i) {
            std::this_thread::sleep_for(20ms);
            auto stats = client.value()->stats("far");
            idle = stats && stats->idle == 1 && stats->busy == 0;
        }
        CHECK(idle);
    }

    TEST_CASE("Client: live pool reconfiguration is validated and used by the next cycle") {
        FarSide far;
        auto client = client::Client::from_toml(far.client_toml());
        REQUIRE(client);
        auto& c = *client.value();
        auto settings = c.pool_settings("far");
        REQUIRE(settings);
        CHECK(settings->ensure_idle_session == 0);
        auto bad = *settings;
        bad.idle_session_check_interval = 0s;
        auto rejected = c.set_pool_settings("far", bad);
        REQUIRE_FALSE(rejected);
        CHECK(rejected.error().text().find("idle-session-check-interval") != std::string::npos);
        auto good = *settings;
        good.ensure_idle_session = 3;
        REQUIRE(c.set_pool_settings("far", good));
        bool filled = false;
        for (int i = 0; i < 60 && !filled; ++i) {  // check interval 1 s: within a few cycles
            std::this_thread::sleep_for(100ms);
            auto stats = c.stats("far");
            filled = stats && stats->idle == 3;
        }
        CHECK(filled);
        CHECK(c.reset("far").value() == 3);
    }

    TEST_CASE("Client: errors name the cause") {
        FarSide far;
        auto bad_toml = client::Client::from_toml("[[proxies]]\nname = 1\n");
        REQUIRE_FALSE(bad_toml);
        CHECK(bad_toml.error().code == errc::config);
        auto client = client::Client::from_toml(far.client_toml());
        REQUIRE(client);
        auto unknown = client.value()->open_stream("nope", "127.0.0.1", 1, 1s);
        REQUIRE_FALSE(unknown);
        CHECK(unknown.error().text().find("unknown proxy") != std::string::npos);
        auto zero = client.value()->open_stream("far", "127.0.0.1", 1, 0s);
        REQUIRE_FALSE(zero);
        CHECK(zero.error().code == errc::invalid_argument);
        // A target nobody listens on: the server's SYNACK text comes back.
        std::uint16_t closed;
        {
            auto l = TcpListener::listen(SocketAddress::loopback_v4(0));
            REQUIRE(l);
            closed = l->address().port();
        }
        // The open is handed out before the SYNACK; the refusal is the next read's error.
        auto refused = client.value()->open_stream("far", "127.0.0.1", closed, 5s);
        REQUIRE_MESSAGE(refused, refused.error().text());
        std::byte buffer[16];
        auto n = refused.value()->read(buffer, 5s);
        REQUIRE_FALSE(n);
        CHECK(n.error().code == errc::target_refused);
        CHECK(n.error().text().find("refused") != std::string::npos);
    }

}  // TEST_SUITE
