// A hostile client against our server (lib/server in process; docs/RELIABILITY.md): a garbage
// preamble, a wrong password (closed, or relayed to the fallback, and in both cases
// indistinguishable from garbage), slowloris during the handshake and during auth (closed at the
// configured timeout), 10,000 SYNs on one session (capped by the stream limit while the server
// keeps serving), and a SYN before Settings (Alert, then close).
#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "log/log.hpp"
#include "proto/auth_preamble.hpp"
#include "proto/frame.hpp"
#include "proto/frame_decoder.hpp"
#include "proto/settings.hpp"
#include "proto/socks_address.hpp"
#include "reliability/reliability_support.hpp"
#include "support/test_tls_client.hpp"
#include "tls/tls_connection.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<std::uint8_t>;

// What a raw client saw: the bytes the server sent, and how the connection ended.
struct Seen {
    bool tls_ok = false;
    std::string tls_error;
    Bytes received;
    bool clean_eof = false;  // read returned 0
    int end_code = 0;        // the error code otherwise (0 while the connection stays open)
    std::chrono::steady_clock::duration elapsed{};  // from the last write to the end
};

struct RawClientPlan {
    bool do_tls = true;
    std::vector<Bytes> writes;         // each its own TLS write
    Duration read_limit = 10s;         // how long to wait for the end
    std::size_t stop_after_bytes = 0;  // stop reading once this many arrived (0: until the end)
    const bool* hold_open = nullptr;   // then keep the connection open while *hold_open
};

Task<void> raw_client(Reactor* r, std::uint16_t port, RawClientPlan plan, Seen* seen) {
    auto socket = co_await tcp_connect(*r, SocketAddress::loopback_v4(port), 5s);
    REQUIRE(socket);
    std::vector<std::byte> buffer(64 * 1024);
    if (!plan.do_tls) {
        // Slowloris before TLS: the TCP connection is open and silent.
        const auto start = std::chrono::steady_clock::now();
        auto receive = recv(*r, socket->fd(), buffer.data(), buffer.size(), plan.read_limit);
        auto n = co_await receive;
        seen->elapsed = std::chrono::steady_clock::now() - start;
        if (n && *n == 0)
            seen->clean_eof = true;
        else if (!n)
            seen->end_code = n.code();
        co_return;
    }
    auto connected =
        co_await test::handshake_trusting_test_ca(*r, std::move(socket).value(), "localhost");
    if (!connected) {
        seen->tls_error = connected.error().text();
        co_return;
    }
    seen->tls_ok = true;
    auto connection = std::move(connected).value();
    for (const auto& w : plan.writes) {
        auto written =
            co_await connection->write(std::as_bytes(std::span<const std::uint8_t>(w)), 10s);
        if (!written) {
            seen->end_code = written.code();
            co_return;
        }
    }
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = Deadline::after(plan.read_limit);
    while (true) {
        auto n = co_await connection->read(buffer, deadline.remaining());
        if (!n) {
            seen->end_code = n.code();
            break;
        }
        if (*n == 0) {
            seen->clean_eof = true;
            break;
        }
        auto bytes = reinterpret_cast<const std::uint8_t*>(buffer.data());
        seen->received.insert(seen->received.end(), bytes, bytes + *n);
        if (plan.stop_after_bytes && seen->received.size() >= plan.stop_after_bytes) break;
    }
    seen->elapsed = std::chrono::steady_clock::now() - start;
    while (plan.hold_open && *plan.hold_open) (void)co_await sleep_for(*r, 10ms);
}

Seen run_raw(test::ServerEnvironment& env, RawClientPlan plan) {
    Seen seen;
    sync_wait(env.reactor,
              raw_client(&env.reactor, env.server->local_address().port(), std::move(plan), &seen));
    ++test::figures().faults;
    return seen;
}

Bytes preamble(std::string_view password, std::uint16_t padding = 30) {
    auto hash = proto::hash_password(password);
    REQUIRE(hash);
    return proto::build_auth_preamble(hash.value(), padding);
}

void put_header(Bytes& out, proto::Command command, std::uint32_t id, std::uint16_t length = 0) {
    proto::append_frame_header(out, command, id, length);
}

void put_settings(Bytes& out) {
    auto body =
        proto::client_settings("hostile-test", proto::PaddingScheme::default_scheme().md5_hex());
    REQUIRE(body);
    REQUIRE(proto::append_frame(out, proto::Command::settings, 0, body.value()));
}

std::vector<proto::Frame> decode_all(const Bytes& bytes) {
    proto::FrameDecoder decoder;
    std::span<const std::uint8_t> input(bytes);
    std::vector<proto::Frame> frames;
    while (auto frame = decoder.next(input)) frames.push_back(frame->copy());
    return frames;
}

}  // namespace

TEST_SUITE("reliability.hostile_client") {
    TEST_CASE("garbage and a wrong password look the same from outside: no byte, the same close") {
        test::LogCapture logs;
        test::ServerEnvironment env;
        RawClientPlan garbage;
        garbage.writes = {Bytes(64, 0x5a)};
        RawClientPlan wrong;
        Bytes w = preamble("not the password");
        put_settings(w);
        put_header(w, proto::Command::syn, 1);
        wrong.writes = {w};
        auto g = run_raw(env, garbage);
        auto p = run_raw(env, wrong);
        REQUIRE(g.tls_ok);
        REQUIRE(p.tls_ok);
        CHECK(g.received.empty());
        CHECK(p.received.empty());  // no Alert, no error text: nothing that tells the two apart
        CHECK(g.clean_eof == p.clean_eof);
        CHECK(g.end_code == p.end_code);
        CHECK((g.clean_eof || g.end_code != -ETIMEDOUT));  // closed, not left hanging
        CHECK(env.server->stats().auth_failures == 2);
        CHECK(env.server->session_count() == 0);
        // The server's own log says the same for both, and never shows what was presented.
        std::size_t failures = 0;
        for (const auto& l : logs.lines)
            failures += l.rfind("[AnyTLS] authentication failed from ", 0) == 0;
        CHECK(failures == 2);
        CHECK(sync_wait(env.reactor, test::session_echo(&env, 0, 1, 7, 100 * 1000)) ==
              std::string());
    }

    TEST_CASE(
        "with a fallback, garbage and a wrong password are both relayed to it, byte for byte") {
        test::LogCapture logs;
        test::ServerEnvironment env;
        // The echo target stands in for the web server a fallback normally names.
        auto config = test::ServerEnvironment::default_config();
        config.fallback = "127.0.0.1:" + std::to_string(env.echo_port());
        auto created = server::Server::create(env.reactor, config);
        REQUIRE(created);
        auto fallback_server = std::move(created).value();
        REQUIRE(fallback_server->start());
        env.server->stop();
        std::swap(env.server, fallback_server);
        Bytes g = Bytes(64, 0x5a);
        Bytes w = preamble("not the password");
        for (const Bytes& first : {g, w}) {
            RawClientPlan plan;
            plan.writes = {first, Bytes{'G', 'E', 'T', ' ', '/'}};
            plan.stop_after_bytes = first.size() + 5;
            auto seen = run_raw(env, plan);
            REQUIRE(seen.tls_ok);
            Bytes expected = first;
            expected.insert(expected.end(), {'G', 'E', 'T', ' ', '/'});
            CHECK(seen.received == expected);  // what the fallback saw, echoed back unchanged
        }
        CHECK(env.server->stats().fallbacks == 2);
        CHECK(env.server->stats().auth_failures == 2);
        fallback_server->stop();
    }

    TEST_CASE(
        "slowloris: a silent connection closes at the handshake timeout, a stuck preamble at the "
        "auth timeout") {
        test::LogCapture logs;
        auto config = test::ServerEnvironment::default_config();
        config.handshake_timeout = 1s;
        config.auth_timeout = 1s;
        test::ServerEnvironment env(config);
        RawClientPlan silent;
        silent.do_tls = false;
        auto s = run_raw(env, silent);
        CHECK((s.clean_eof || (s.end_code != 0 && s.end_code != -ETIMEDOUT)));
        CHECK(s.elapsed >= 900ms);
        RawClientPlan stuck;
        auto p = preamble(test::kReliabilityPassword, 1000);
        stuck.writes = {
            Bytes(p.begin(), p.begin() + 40)};  // the hash, the length, 4 of 1000 padding bytes
        auto a = run_raw(env, stuck);
        REQUIRE(a.tls_ok);
        CHECK(a.received.empty());
        CHECK((a.clean_eof || (a.end_code != 0 && a.end_code != -ETIMEDOUT)));
        CHECK(a.elapsed >= 500ms);  // the server's auth clock starts a little after ours
        CHECK(env.server->stats().auth_failures == 1);
        CHECK(env.server->stats().sessions_authenticated == 0);
        CHECK(sync_wait(env.reactor, test::session_echo(&env, 0, 1, 7, 100 * 1000)) ==
              std::string());
    }

    TEST_CASE(
        "10,000 SYNs on one session: the stream limit caps them and the server keeps working") {
        test::LogCapture logs;
        auto config = test::ServerEnvironment::default_config();
        config.max_streams_per_session = 64;
        test::ServerEnvironment env(config);
        const std::size_t rss_before = test::rss_bytes();
        Bytes flood = preamble(test::kReliabilityPassword);
        put_settings(flood);
        for (std::uint32_t id = 1; id <= 10000; ++id) put_header(flood, proto::Command::syn, id);
        RawClientPlan plan;
        plan.writes = {flood};
        // ServerSettings + a FIN for each of the 9,936 refused streams.
        plan.stop_after_bytes = 7 + 3 + 7 * (10000 - 64);
        plan.read_limit = 20s;
        bool hold = true;
        plan.hold_open = &hold;
        Seen seen;
        env.reactor.spawn(
            raw_client(&env.reactor, env.server->local_address().port(), plan, &seen));
        REQUIRE(env.run_until(
            [&] {
                return seen.received.size() >= plan.stop_after_bytes || seen.end_code != 0 ||
                       seen.clean_eof;
            },
            30s));
        ++test::figures().faults;
        auto frames = decode_all(seen.received);
        std::size_t fins = 0, server_settings = 0;
        std::uint32_t lowest_refused = 0xffffffff;
        for (const auto& f : frames) {
            if (f.command == proto::Command::fin) {
                ++fins;
                lowest_refused = std::min(lowest_refused, f.stream_id);
            }
            server_settings += f.command == proto::Command::server_settings;
        }
        CHECK(server_settings == 1);
        CHECK(fins == 10000 - 64);
        CHECK(lowest_refused == 65);
        CHECK(env.server->stats().streams_opened == 64);
        CHECK(env.server->session_count() == 1);
        // Meanwhile a well-behaved client is served.
        CHECK(sync_wait(env.reactor, test::session_echo(&env, 0, 1, 7, 100 * 1000)) ==
              std::string());
        const std::size_t rss_after = test::rss_bytes();
        MESSAGE("RSS before " << rss_before / 1024 << " KiB, after " << rss_after / 1024 << " KiB");
        if (!ANYTLS_TEST_ASAN) CHECK(rss_after < rss_before + 32 * 1024 * 1024);
        hold = false;  // the flooding client leaves; its session and its 64 streams end
        REQUIRE(env.run_until([&] { return env.server->session_count() == 0; }));
        env.server->stop();
        REQUIRE(env.run_until([&] { return env.server->session_count() == 0; }));
    }

    TEST_CASE("a SYN before Settings gets an Alert and the session closes") {
        test::LogCapture logs;
        test::ServerEnvironment env;
        Bytes bytes = preamble(test::kReliabilityPassword);
        put_header(bytes, proto::Command::syn, 1);
        RawClientPlan plan;
        plan.writes = {bytes};
        auto seen = run_raw(env, plan);
        REQUIRE(seen.tls_ok);
        auto frames = decode_all(seen.received);
        REQUIRE(frames.size() == 1);
        CHECK(frames[0].command == proto::Command::alert);
        CHECK((seen.clean_eof || (seen.end_code != 0 && seen.end_code != -ETIMEDOUT)));
        CHECK(env.server->stats().alerts_sent == 1);
        REQUIRE(env.run_until([&] { return env.server->session_count() == 0; }));
    }

}  // TEST_SUITE
