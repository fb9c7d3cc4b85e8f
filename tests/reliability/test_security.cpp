// Security checks as tests (docs/RELIABILITY.md): no password, password hash or private key in any
// log line at the most verbose level; certificate verification on by default; the server's limits
// on sessions and buffered bytes trigger (the stream limit is in test_hostile_client.cpp, "10,000
// SYNs").
//
// About trace level: lines written with ANYTLS_TRACE exist only in builds configured with
// -Dtrace_log=true. The runtime check below captures every line the library emits at
// Level::trace whatever the build; the source check reads every logging call in lib/ and
// capi/ (trace lines included, compiled in or not) and rejects any that passes a secret.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "client/client.hpp"
#include "client/session_pool.hpp"
#include "config/server_config_loader.hpp"
#include "log/log.hpp"
#include "proto/auth_preamble.hpp"
#include "proto/digest.hpp"
#include "proto/frame.hpp"
#include "reliability/reliability_support.hpp"
#include "tls/self_signed.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

constexpr const char* kSecret = "Zebra-Quokka-7731-secret";
constexpr const char* kWrongSecret = "Narwhal-Ibex-9902-wrong";

std::string hex_of_hash(std::string_view password) {
    auto hash = proto::hash_password(password);
    REQUIRE(hash);
    return proto::to_hex(hash.value());
}

std::string raw_hash(std::string_view password) {
    auto hash = proto::hash_password(password);
    REQUIRE(hash);
    return std::string(reinterpret_cast<const char*>(hash->data()), hash->size());
}

// The base64 lines of a PEM private key (what must never be printed).
std::vector<std::string> key_lines(const std::string& pem) {
    std::vector<std::string> out;
    std::istringstream in(pem);
    for (std::string line; std::getline(in, line);)
        if (line.size() >= 16 && line.find("-----") == std::string::npos) out.push_back(line);
    return out;
}

std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

Task<std::string> full_client_life(test::ServerEnvironment* env, client::SessionPool* pool) {
    for (int i = 0; i < 3; ++i) {
        auto stream = co_await pool->open_stream("127.0.0.1", env->echo_port(), 5s);
        if (!stream) co_return "open_stream: " + stream.error().text();
        std::vector<std::byte> data = test::random_bytes(i, 50000);
        auto w = co_await stream->write(data, 5s);
        if (!w) co_return "write: " + w.error().text();
        std::vector<std::byte> back, buffer(65536);
        while (back.size() < data.size()) {
            auto n = co_await stream->read(buffer, 5s);
            if (!n || *n == 0) co_return "read failed";
            back.insert(back.end(), buffer.begin(),
                        buffer.begin() + static_cast<std::ptrdiff_t>(*n));
        }
        if (back != data) co_return "echo differs";
        test::figures().bytes_verified += data.size();
        ++test::figures().streams;
        auto c = co_await stream->close();
        if (!c) co_return "close: " + c.error().text();
    }
    // A failed authentication, and a refused target, on the same server.
    auto config = env->client_config();
    config.password = kWrongSecret;
    auto wrong = co_await session::open_session(env->reactor, config, env->padding, 99);
    if (wrong) {
        // The open is queued before the server's verdict; the stream must not connect.
        auto stream = co_await wrong.value()->open_stream("127.0.0.1", env->echo_port(), 2s);
        if (stream) {
            auto connected = co_await stream->wait_connected(2s);
            if (connected) co_return "a wrong password opened a stream";
        }
        wrong.value()->close();
    }
    client::OpenOptions wait;
    wait.wait_connected = true;
    auto refused = co_await pool->open_stream("127.0.0.1", 1, 5s, wait);
    if (refused) co_return "port 1 answered";
    co_return std::string();
}

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The argument text of every logging call in `source`: from `log::xxx(` or `ANYTLS_TRACE(`
// to its balanced closing parenthesis.
std::vector<std::string> logging_calls(const std::string& source) {
    std::vector<std::string> calls;
    const std::vector<std::string> starts = {"log::error(",  "log::warn(", "log::info(",
                                             "log::debug(",  "log::emit(", "log::write(",
                                             "ANYTLS_TRACE("};
    for (const auto& start : starts) {
        for (std::size_t at = source.find(start); at != std::string::npos;
             at = source.find(start, at + 1)) {
            std::size_t i = at + start.size();
            int depth = 1;
            while (i < source.size() && depth > 0) {
                if (source[i] == '(') ++depth;
                if (source[i] == ')') --depth;
                ++i;
            }
            calls.push_back(source.substr(at, i - at));
        }
    }
    return calls;
}

}  // namespace

TEST_SUITE("reliability.security") {
    TEST_CASE("no password, password hash or private key in any log line at trace level") {
        const auto& pki = test::test_pki();
        test::LogCapture capture{log::Level::trace};  // from before the server starts
        auto server_config = test::ServerEnvironment::default_config();
        server_config.users = {{"alice", kSecret}};
        test::ServerEnvironment env(server_config);
        CHECK(log::enabled(log::Level::trace));
        {
            auto client_config = env.client_config();
            client_config.password = kSecret;
            config::PoolSettings settings;
            settings.ensure_idle_session = 2;
            settings.idle_session_check_interval = 1s;
            settings.heartbeat_interval = 1s;
            settings.heartbeat_timeout = 2s;
            ManualClock clock{TimePoint{} + std::chrono::hours(1)};
            std::atomic<std::uint64_t> sequence{0};
            client::SessionPool pool(env.reactor, "secret-proxy", client_config, settings,
                                     env.padding, &sequence, &clock, 1);
            pool.run_cycle();
            REQUIRE(env.run_until([&] { return pool.creating() == 0; }));
            CHECK(sync_wait(env.reactor, full_client_life(&env, &pool)) == std::string());
            clock.advance(5s);
            pool.run_cycle();  // heartbeats
            REQUIRE(env.run_until([&] { return pool.creating() == 0; }));
            env.run_until([] { return false; }, 200ms);
            sync_wait(env.reactor, pool.shutdown());
        }
        // The loaders' errors too: a config with a secret and a mistake.
        auto client = client::Client::from_toml(
            std::string("[[proxies]]\nname = \"p\"\ntype = \"anytls\"\nserver = "
                        "\"127.0.0.1\"\nport = 1\npassword = \"") +
            kSecret + "\"\npasword = \"" + kSecret + "\"\n");
        REQUIRE_FALSE(client);
        capture.lines.push_back(client.error().text());
        auto server_file =
            config::load_server_config(std::string("listen = \"127.0.0.1:0\"\nself-signed = true\n"
                                                   "[[users]]\nname = \"u\"\npassword = \"") +
                                       kSecret + "\"\npassword2 = \"" + kSecret + "\"\n");
        REQUIRE_FALSE(server_file);
        capture.lines.push_back(server_file.error().text());

        MESSAGE(capture.lines.size() << " log lines captured");
        CHECK(capture.lines.size() > 10);
        std::vector<std::string> forbidden = {kSecret,
                                              kWrongSecret,
                                              hex_of_hash(kSecret),
                                              hex_of_hash(kWrongSecret),
                                              raw_hash(kSecret),
                                              raw_hash(kWrongSecret)};
        for (const auto& l : key_lines(test::read_file(pki.server_key))) forbidden.push_back(l);
        REQUIRE(forbidden.size() > 6);
        std::size_t leaks = 0;
        for (const auto& line : capture.lines) {
            for (const auto& secret : forbidden) {
                if (line.find(secret) != std::string::npos ||
                    lower(line).find(lower(secret)) != std::string::npos) {
                    ++leaks;
                    FAIL_CHECK("a log line shows a secret: " << line);
                }
            }
        }
        CHECK(leaks == 0);
    }

    TEST_CASE(
        "no logging call in lib/ or capi/ passes a password, a hash or a private key (trace lines "
        "included)") {
        const std::filesystem::path root = ANYTLS_SOURCE_ROOT;
        REQUIRE(std::filesystem::exists(root / "lib"));
        std::size_t files = 0, calls = 0;
        const std::vector<std::string> secret_names = {"password", "private_key", "key_pem",
                                                       "password_hash", "hash_"};
        for (const char* dir : {"lib", "capi"}) {
            for (const auto& entry : std::filesystem::recursive_directory_iterator(root / dir)) {
                const auto ext = entry.path().extension();
                if (ext != ".cpp" && ext != ".hpp") continue;
                ++files;
                for (const auto& call : logging_calls(read_text(entry.path()))) {
                    ++calls;
                    // Format strings may say "password" in words (an error about it); the
                    // arguments after the format string must not be one.
                    const auto format_end = call.find("\", ");
                    const std::string arguments =
                        format_end == std::string::npos ? "" : call.substr(format_end + 3);
                    for (const auto& name : secret_names) {
                        CHECK_MESSAGE(arguments.find(name) == std::string::npos,
                                      entry.path().string() << ": " << call);
                    }
                }
            }
        }
        MESSAGE(files << " files, " << calls << " logging calls read");
        CHECK(files > 20);
        CHECK(calls > 20);
    }

    TEST_CASE("certificate verification is on by default") {
        test::LogCapture capture{log::Level::trace};
        // A server whose certificate is self-signed, made at start (what `--self-signed` does).
        auto self_signed = tls::generate_self_signed({"localhost", "127.0.0.1"});
        REQUIRE_MESSAGE(self_signed, self_signed.error().text());
        auto config = test::ServerEnvironment::default_config();
        config.certificate_file.clear();
        config.private_key_file.clear();
        config.certificate_pem = self_signed->certificate_pem;
        config.private_key_pem = self_signed->private_key_pem;
        test::ServerEnvironment env(config);

        session::ClientConfig defaults;  // only what a user must give: server, port, password
        defaults.server_host = "127.0.0.1";
        defaults.server_port = env.server->local_address().port();
        defaults.password = test::kReliabilityPassword;
        CHECK_FALSE(defaults.skip_verify);
        auto opened =
            sync_wait(env.reactor, session::open_session(env.reactor, defaults, env.padding, 1));
        REQUIRE_FALSE(opened);
        MESSAGE("default client against a self-signed server: " << opened.error().text());
        const std::string text = lower(opened.error().text());
        CHECK((text.find("certificate") != std::string::npos ||
               text.find("verif") != std::string::npos));
        CHECK(env.server->stats().sessions_authenticated == 0);
        ++test::figures().faults;

        // The same server is accepted once its certificate is pinned: the failure was verification.
        auto pinned = defaults;
        pinned.ca_pem = self_signed->certificate_pem;
        auto ok =
            sync_wait(env.reactor, session::open_session(env.reactor, pinned, env.padding, 2));
        REQUIRE_MESSAGE(ok, ok.error().text());
        ok.value()->close();

        // And the test CA's server (a CA not in the system store) fails the same way.
        test::ServerEnvironment ca_env;
        auto other = defaults;
        other.server_port = ca_env.server->local_address().port();
        auto refused = sync_wait(ca_env.reactor,
                                 session::open_session(ca_env.reactor, other, ca_env.padding, 1));
        REQUIRE_FALSE(refused);
        ++test::figures().faults;
    }

    TEST_CASE(
        "the server's session limit refuses the connection beyond it, and frees the slot on "
        "close") {
        test::LogCapture capture{log::Level::trace};
        auto config = test::ServerEnvironment::default_config();
        config.max_sessions = 3;
        test::ServerEnvironment env(config);
        std::vector<std::shared_ptr<session::ClientSession>> sessions;
        for (int i = 0; i < 3; ++i) {
            auto opened = sync_wait(
                env.reactor,
                session::open_session(env.reactor, env.client_config(), env.padding, i + 1));
            REQUIRE_MESSAGE(opened, opened.error().text());
            sessions.push_back(std::move(opened).value());
        }
        REQUIRE(env.run_until([&] { return env.server->session_count() == 3; }));
        auto fourth = sync_wait(
            env.reactor, session::open_session(env.reactor, env.client_config(), env.padding, 4));
        CHECK_FALSE(fourth);  // the server closes it before the handshake
        ++test::figures().faults;
        CHECK(std::any_of(capture.lines.begin(), capture.lines.end(), [](const std::string& l) {
            return l.find("session limit (3) reached") != std::string::npos;
        }));
        CHECK(env.server->session_count() == 3);
        sessions[0]->close();
        REQUIRE(env.run_until([&] { return env.server->session_count() == 2; }));
        auto again = sync_wait(
            env.reactor, session::open_session(env.reactor, env.client_config(), env.padding, 5));
        REQUIRE_MESSAGE(again, again.error().text());
        again.value()->close();
        for (auto& s : sessions) s->close();
    }

    namespace {

    // A target that accepts and never reads: the server's stream buffer must fill and stop there.
    Task<void> hold_without_reading(Reactor* r, TcpListener* listener, Socket* held) {
        auto accept = listener->accept(*r);
        auto socket = co_await accept;
        if (socket) *held = std::move(socket).value();
    }

    Task<void> write_forever(session::ClientStream* stream, bool* stopped) {
        const auto chunk = test::random_bytes(5, 256 * 1024);
        for (int i = 0; i < 256; ++i) {
            auto w = co_await stream->write(chunk, 30s);
            if (!w) break;
        }
        *stopped = true;
    }

    }  // namespace

    TEST_CASE("the server's buffered bytes per stream stay under its stream buffer limit") {
        test::LogCapture capture{log::Level::trace};
        auto config = test::ServerEnvironment::default_config();
        config.stream_buffer_limit = 64 * 1024;
        test::ServerEnvironment env(config);
        auto sink = TcpListener::listen(SocketAddress::loopback_v4(0));
        REQUIRE(sink);
        Socket held;
        env.reactor.spawn(hold_without_reading(&env.reactor, &sink.value(), &held));
        auto opened = sync_wait(
            env.reactor, session::open_session(env.reactor, env.client_config(), env.padding, 1));
        REQUIRE(opened);
        auto session = std::move(opened).value();
        auto stream =
            sync_wait(env.reactor, session->open_stream("127.0.0.1", sink->address().port(), 5s));
        REQUIRE_MESSAGE(stream, stream.error().text());
        bool writer_stopped = false;
        env.reactor.spawn(write_forever(&stream.value(), &writer_stopped));
        // 64 MiB offered; the socket buffers on the way hold a few MiB, the server at most its limit.
        std::size_t most = 0;
        auto last_change = std::chrono::steady_clock::now();
        env.run_until(
            [&] {
                const std::size_t now = env.server->buffered_bytes();
                if (now > most) {
                    most = now;
                    last_change = std::chrono::steady_clock::now();
                }
                return most > 0 && std::chrono::steady_clock::now() - last_change > 1500ms;
            },
            20s);
        MESSAGE("most bytes buffered in the server: " << most << " (limit "
                                                      << config.stream_buffer_limit << ")");
        CHECK(most >= config.stream_buffer_limit / 2);  // the limit was reached...
        CHECK(most <= config.stream_buffer_limit + proto::max_frame_data);  // ...and held
        CHECK_FALSE(writer_stopped);  // the writer is held back, not failed
        ++test::figures().faults;
        session->close();
        REQUIRE(env.run_until([&] { return writer_stopped; }));
        held.close();
        sink->close();
    }

}  // TEST_SUITE
