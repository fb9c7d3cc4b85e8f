// ServerGroup: the server on several reactor threads. Real TLS clients (lib/client) and plain
// TCP connections reach a two-thread group over loopback; the echo target runs on a reactor
// thread of its own. Under ThreadSanitizer (tools/dev/test-all) this is the hand-off between
// the acceptor and the other thread.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "io/reactor_thread.hpp"
#include "io/tcp.hpp"
#include "server/server_group.hpp"
#include "support/echo_service.hpp"
#include "support/test_certs.hpp"
#include "support/test_server_config.hpp"

using namespace anytls;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPassword = "group-test-password";

server::ServerConfig group_config(unsigned threads, std::size_t max_sessions = 4096) {
    server::ServerConfig config = test::loopback_server_config("user", kPassword);
    config.threads = threads;
    config.max_sessions = max_sessions;
    config.handshake_timeout = 30s;  // the limit test holds connections before their handshake
    return config;
}

struct EchoTarget {
    EchoTarget() {
        thread.call([this] {
            auto bound = io::TcpListener::listen(io::SocketAddress::loopback_v4(0));
            REQUIRE(bound);
            listener = std::move(bound).value();
            thread.reactor().spawn(test::echo_accept_loop(&thread.reactor(), &listener));
        });
    }
    ~EchoTarget() {
        thread.call([this] { listener.close(); });
    }
    std::uint16_t port() const { return listener.address().port(); }
    io::ReactorThread thread;
    io::TcpListener listener;
};

std::string client_toml(std::uint16_t port) {
    return "log-level = \"warning\"\n[[proxies]]\nname = \"group\"\ntype = \"anytls\"\n"
           "server = \"127.0.0.1\"\nport = " +
           std::to_string(port) + "\npassword = \"" + kPassword +
           "\"\nsni = \"localhost\"\nca-file = \"" + test::test_pki().ca_cert + "\"\n";
}

bool echoes(client::Stream& stream, std::size_t size, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<std::byte> data(size);
    for (auto& b : data) b = std::byte{static_cast<unsigned char>(rng())};
    if (!stream.write(data, 10s)) return false;
    std::vector<std::byte> back, buffer(64 * 1024);
    while (back.size() < size) {
        auto n = stream.read(buffer, 10s);
        if (!n || *n == 0) return false;
        back.insert(back.end(), buffer.begin(), buffer.begin() + static_cast<long>(*n));
    }
    return back == data;
}

// A plain TCP connection to the group, made and watched with blocking calls.
int connect_to(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    return fd;
}

// True when the server closed the connection within `wait` (read returns 0 or an error).
bool closed_by_server(int fd, std::chrono::milliseconds wait) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
    char byte = 0;
    return ::recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
}

// Polls until the group counts `wanted` live connections, for at most 10 s.
bool live_becomes(const server::ServerGroup& group, std::size_t wanted) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (group.live_connections() == wanted) return true;
        std::this_thread::sleep_for(1ms);
    }
    return false;
}

}  // namespace

TEST_SUITE("server") {
    TEST_CASE("a two-thread server hands connections out in turn; sessions run on both") {
        auto started = server::ServerGroup::start(group_config(2));
        REQUIRE(started);
        auto& group = *started.value();
        CHECK(group.thread_count() == 2);
        EchoTarget target;

        // Six clients from six threads at once, each with its own session, carrying 256 KiB
        // both ways on each of two streams.
        constexpr int kClients = 6;
        std::vector<std::unique_ptr<client::Client>> clients;
        for (int i = 0; i < kClients; ++i) {
            auto made = client::Client::from_toml(client_toml(group.local_address().port()));
            REQUIRE(made);
            clients.push_back(std::move(made).value());
        }
        std::vector<int> echoed(kClients, 0);
        std::vector<std::thread> threads;
        for (int i = 0; i < kClients; ++i)
            threads.emplace_back([&, i] {
                for (int round = 0; round < 2; ++round) {
                    auto stream =
                        clients[i]->open_stream("group", "127.0.0.1", target.port(), 10s, true);
                    if (stream && echoes(*stream.value(), 256 * 1024, i * 10 + round)) ++echoed[i];
                }
            });
        for (auto& t : threads) t.join();
        for (int i = 0; i < kClients; ++i) CHECK(echoed[i] == 2);

        const auto sessions = group.sessions_per_thread();
        const auto connections = group.connections_per_thread();
        REQUIRE(sessions.size() == 2);
        CHECK(sessions[0] >= 1);
        CHECK(sessions[1] >= 1);
        // Round robin: the two threads' counts differ by at most one.
        const std::uint64_t total = connections[0] + connections[1];
        CHECK(total >= kClients);
        CHECK(std::max(connections[0], connections[1]) - std::min(connections[0], connections[1]) <=
              1);
        const auto stats = group.stats();
        CHECK(stats.sessions_authenticated == total);
        CHECK(stats.streams_opened == 2 * kClients);
        clients.clear();
        group.shutdown();
        CHECK(group.live_connections() == 0);
    }

    TEST_CASE("max-sessions holds exactly across threads, and a freed place is taken again") {
        constexpr std::size_t kLimit = 3;
        auto started = server::ServerGroup::start(group_config(2, kLimit));
        REQUIRE(started);
        auto& group = *started.value();
        const std::uint16_t port = group.local_address().port();

        // Three connections that never start TLS hold the three places, on both threads.
        std::vector<int> held;
        for (std::size_t i = 0; i < kLimit; ++i) held.push_back(connect_to(port));
        REQUIRE(live_becomes(group, kLimit));
        // The fourth goes to thread 1 in turn and is closed at once, though thread 1 holds only
        // one place itself: the limit is the group's.
        const int refused = connect_to(port);
        CHECK(closed_by_server(refused, 10s));
        CHECK(group.live_connections() == kLimit);
        for (int fd : held) CHECK_FALSE(closed_by_server(fd, 0ms));
        const auto connections = group.connections_per_thread();
        CHECK(connections[0] == 2);
        CHECK(connections[1] == 2);

        // One place freed: the next connection is admitted and kept.
        ::close(held.front());
        held.erase(held.begin());
        REQUIRE(live_becomes(group, kLimit - 1));
        const int admitted = connect_to(port);
        REQUIRE(live_becomes(group, kLimit));
        CHECK_FALSE(closed_by_server(admitted, 200ms));
        held.push_back(admitted);

        // Shutdown closes every held connection and wakes nothing left behind.
        group.shutdown();
        for (int fd : held) {
            CHECK(closed_by_server(fd, 10s));
            ::close(fd);
        }
        ::close(refused);
        CHECK(group.live_connections() == 0);
    }

    TEST_CASE("threads = 0 means the online CPUs, capped; one thread accepts alone") {
        const unsigned expected = server::default_server_threads();
        CHECK(expected >= 1);
        CHECK(expected <= server::kDefaultServerThreadCap);
        auto automatic = server::ServerGroup::start(group_config(0));
        REQUIRE(automatic);
        CHECK(automatic.value()->thread_count() == expected);

        auto single = server::ServerGroup::start(group_config(1));
        REQUIRE(single);
        EchoTarget target;
        auto made = client::Client::from_toml(client_toml(single.value()->local_address().port()));
        REQUIRE(made);
        auto stream = made.value()->open_stream("group", "127.0.0.1", target.port(), 10s, true);
        REQUIRE(stream);
        CHECK(echoes(*stream.value(), 64 * 1024, 7));
        CHECK(single.value()->connections_per_thread() == std::vector<std::uint64_t>{1});
    }

    TEST_CASE("a bad certificate or a taken port is the start's error; nothing is left running") {
        auto config = group_config(2);
        config.certificate_file = "/nonexistent/cert.pem";
        auto bad = server::ServerGroup::start(config);
        REQUIRE_FALSE(bad);
        CHECK(bad.error().text().find("/nonexistent/cert.pem") != std::string::npos);

        auto first = server::ServerGroup::start(group_config(2));
        REQUIRE(first);
        auto taken = group_config(2);
        taken.listen = first.value()->local_address().to_string();
        auto second = server::ServerGroup::start(taken);
        REQUIRE_FALSE(second);
        CHECK(second.error().code == -EADDRINUSE);
    }
}
