//go:build ignore

// (The line above keeps `go` from treating this file as part of the Go test package that
// shares this directory: Go refuses C++ sources in a package that does not use cgo.)
//
// peer: our AnyTLS client and server as a command-line program, for the interoperability test
// against the Go reference (tests/interop/interop_test.go).
//
//   peer server --listen 127.0.0.1:0 --password P --cert F --key F [--padding-scheme-file F]
//     Runs our Server. Prints "listening on 127.0.0.1:PORT" once bound, then runs until stdin
//     closes or SIGTERM/SIGINT arrives; on the way out prints one JSON line of server stats.
//
//   peer client --server 127.0.0.1:PORT --password P --ca F --sni localhost
//               --target 127.0.0.1:ECHO --sequential N --concurrent K
//               [--refused-target 127.0.0.1:CLOSED] [--udp-target 127.0.0.1:UDPECHO --udp-datagrams N]
//     Drives our SessionPool against an echo target behind the server: N streams one after
//     another (each echoes random bytes of random size up to 64 KiB, then closes), then K
//     streams open at once. Then, if asked, opens a stream to a closed port and expects
//     errc::target_refused carrying the server's SYNACK text. Last, it opens one fresh session
//     directly (session::open_session with the pool's PaddingState) so the padding-md5 its
//     Settings carried can be reported: after a server pushed a scheme, that is the pushed
//     scheme's md5 (docs/DESIGN.md, "Padding scheme").
//     With --udp-target, last of all: a UDP-over-TCP v2 stream (connect mode) on a fresh
//     session to that UDP echo, N datagrams of random sizes each sent and its echo compared.
//     Prints one JSON line; exits 1 on any failure.
//
// Exit codes: 0 pass, 1 failure, 2 bad usage.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/errors.hpp"
#include "base/json_string.hpp"
#include "client/session_pool.hpp"
#include "io/reactor.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "config/log_level.hpp"
#include "log/log.hpp"
#include "server/server.hpp"
#include "session/client_session.hpp"
#include "session/padding_state.hpp"
#include "session/udp_stream.hpp"

using namespace anytls;
using namespace std::chrono_literals;

namespace {

constexpr io::Duration kStepTimeout = 10s;  // every open, write and read
constexpr std::size_t kMaxEchoSize = 64 * 1024;

using Options = std::map<std::string, std::string>;

// "--key value" pairs after the mode word; false on a dangling key or a stray word.
bool parse_options(int argc, char** argv, Options* out) {
    for (int i = 2; i < argc; i += 2) {
        std::string_view key = argv[i];
        if (key.substr(0, 2) != "--" || i + 1 >= argc) return false;
        (*out)[std::string(key.substr(2))] = argv[i + 1];
    }
    return true;
}

std::string option(const Options& options, const std::string& key,
                   const std::string& fallback = {}) {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
}

bool parse_count(const std::string& text, int* out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return ec == std::errc{} && end == text.data() + text.size() && *out >= 0;
}

// "host:port" split at the last colon (IPv4 literals and names only; enough for 127.0.0.1).
bool split_host_port(const std::string& text, std::string* host, std::uint16_t* port) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) return false;
    *host = text.substr(0, colon);
    int value = 0;
    if (!parse_count(text.substr(colon + 1), &value) || value > 65535) return false;
    *port = static_cast<std::uint16_t>(value);
    return true;
}

// --- stopping the server from other threads -------------------------------------------------
// SIGTERM/SIGINT are blocked in every thread and taken by sigwait on a helper thread; another
// helper waits for stdin to close. Either stops the reactor — through a pointer guarded by a
// mutex, because the helpers outlive the reactor (they stay blocked until the process exits).

std::mutex g_stop_mutex;
io::Reactor* g_running_reactor = nullptr;

void stop_running_reactor() {
    std::lock_guard lock(g_stop_mutex);
    if (g_running_reactor) g_running_reactor->stop();
}

void start_stop_watchers() {
    std::thread([] {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        int signal_number = 0;
        if (sigwait(&set, &signal_number) == 0) stop_running_reactor();
    }).detach();
    std::thread([] {
        char buffer[256];
        while (::read(STDIN_FILENO, buffer, sizeof buffer) > 0) {}
        stop_running_reactor();
    }).detach();
}

int run_server(const Options& options) {
    server::ServerConfig config;
    config.listen = option(options, "listen", "127.0.0.1:0");
    config.certificate_file = option(options, "cert");
    config.private_key_file = option(options, "key");
    config.users = {{"interop", option(options, "password")}};
    if (config.certificate_file.empty() || config.private_key_file.empty() ||
        config.users[0].password.empty()) {
        std::fprintf(stderr, "peer server: --cert, --key and --password are required\n");
        return 2;
    }
    if (auto scheme_file = option(options, "padding-scheme-file"); !scheme_file.empty()) {
        std::ifstream in(scheme_file, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "peer server: cannot read %s\n", scheme_file.c_str());
            return 2;
        }
        std::ostringstream text;
        text << in.rdbuf();
        config.padding_scheme = text.str();  // raw: its md5 is what clients compare
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts: all inherit it

    io::Reactor reactor;
    auto created = server::Server::create(reactor, config);
    if (!created) {
        std::fprintf(stderr, "peer server: %s\n", created.error().text().c_str());
        return 1;
    }
    auto server = std::move(created).value();
    if (auto started = server->start(); !started) {
        std::fprintf(stderr, "peer server: %s\n", started.error().text().c_str());
        return 1;
    }
    {
        std::lock_guard lock(g_stop_mutex);
        g_running_reactor = &reactor;
    }
    start_stop_watchers();
    std::printf("listening on %s\n", server->local_address().to_string().c_str());
    std::fflush(stdout);

    reactor.run();

    {
        std::lock_guard lock(g_stop_mutex);
        g_running_reactor = nullptr;
    }
    server->stop();
    for (int i = 0; i < 20000 && reactor.live_tasks() > 0; ++i) reactor.run_once(true);
    const auto& stats = server->stats();
    std::printf(
        "{\"connections_accepted\":%llu,\"sessions_authenticated\":%llu,\"auth_failures\":%llu,"
        "\"padding_updates_sent\":%llu,\"streams_opened\":%llu,\"alerts_sent\":%llu}\n",
        static_cast<unsigned long long>(stats.connections_accepted),
        static_cast<unsigned long long>(stats.sessions_authenticated),
        static_cast<unsigned long long>(stats.auth_failures),
        static_cast<unsigned long long>(stats.padding_updates_sent),
        static_cast<unsigned long long>(stats.streams_opened),
        static_cast<unsigned long long>(stats.alerts_sent));
    std::fflush(stdout);
    return 0;
}

// --- client -------------------------------------------------------------------------------

struct ClientRun {
    io::Reactor* reactor = nullptr;
    client::SessionPool* pool = nullptr;
    session::ClientConfig client_config;
    std::shared_ptr<session::PaddingState> padding;
    std::string target_host;
    std::uint16_t target_port = 0;
    std::mt19937_64 random;

    // Concurrent phase: each stream holds until all K have echoed, so K are open at once.
    int concurrent_total = 0;
    int concurrent_echoed = 0;
    int concurrent_finished = 0;
    int concurrent_ok = 0;
    std::string first_error;

    void note_error(const std::string& where, const Error& error) {
        if (first_error.empty()) first_error = where + ": " + error.text();
    }
};

std::vector<std::byte> random_payload(ClientRun* run) {
    std::uniform_int_distribution<std::size_t> size(1, kMaxEchoSize);
    std::vector<std::byte> data(size(run->random));
    for (auto& b : data) b = std::byte{static_cast<unsigned char>(run->random())};
    return data;
}

// Writes `data` on the stream, reads the same number of bytes back and compares them.
io::Task<Result<void>> echo_once(client::PooledStream* stream, std::vector<std::byte> data) {
    auto written = co_await stream->write(data, kStepTimeout);
    if (!written) co_return std::move(written).error();
    std::vector<std::byte> back;
    back.reserve(data.size());
    std::vector<std::byte> buffer(65536);
    while (back.size() < data.size()) {
        auto n = co_await stream->read(buffer, kStepTimeout);
        if (!n) co_return std::move(n).error();
        if (*n == 0)
            co_return make_error(errc::closed, "the echo ended after " +
                                                   std::to_string(back.size()) + " of " +
                                                   std::to_string(data.size()) + " bytes");
        back.insert(back.end(), buffer.begin(), buffer.begin() + static_cast<long>(*n));
    }
    if (back != data) co_return make_error(errc::protocol, "echoed bytes differ");
    co_return Result<void>{};
}

io::Task<Result<void>> sequential_stream(ClientRun* run) {
    auto opened = co_await run->pool->open_stream(run->target_host, run->target_port, kStepTimeout);
    if (!opened) co_return std::move(opened).error();
    auto stream = std::move(opened).value();
    auto echoed = co_await echo_once(&stream, random_payload(run));
    if (!echoed) co_return echoed;
    co_return co_await stream.close();
}

io::Task<void> concurrent_stream(ClientRun* run, int index) {
    auto opened = co_await run->pool->open_stream(run->target_host, run->target_port, kStepTimeout);
    if (!opened) {
        run->note_error("concurrent stream " + std::to_string(index) + " open", opened.error());
        ++run->concurrent_echoed;
        ++run->concurrent_finished;
        co_return;
    }
    auto stream = std::move(opened).value();
    auto echoed = co_await echo_once(&stream, random_payload(run));
    ++run->concurrent_echoed;
    // Hold the stream until every concurrent stream has echoed (bounded), so they overlap.
    for (int i = 0; i < 2000 && run->concurrent_echoed < run->concurrent_total; ++i)
        (void)co_await io::sleep_for(*run->reactor, 5ms);
    auto closed = co_await stream.close();
    if (!echoed)
        run->note_error("concurrent stream " + std::to_string(index), echoed.error());
    else if (!closed)
        run->note_error("concurrent stream " + std::to_string(index) + " close", closed.error());
    else
        ++run->concurrent_ok;
    ++run->concurrent_finished;
}

io::Task<void> wait_for_concurrent(ClientRun* run) {
    for (int i = 0; i < 6000 && run->concurrent_finished < run->concurrent_total; ++i)
        (void)co_await io::sleep_for(*run->reactor, 10ms);
}

// Opens a session outside the pool (sharing its PaddingState), opens one stream so the
// session sends its Settings, and returns the padding-md5 those Settings carried.
io::Task<Result<std::string>> fresh_session_md5(ClientRun* run) {
    auto opened =
        co_await session::open_session(*run->reactor, run->client_config, run->padding, 0);
    if (!opened) co_return std::move(opened).error();
    auto session = std::move(opened).value();
    auto stream = co_await session->open_stream(run->target_host, run->target_port, kStepTimeout);
    if (!stream) {
        session->close();
        co_return std::move(stream).error();
    }
    std::string md5 = session->sent_padding_md5();
    auto closed = co_await stream->close();
    session->close();
    if (!closed) co_return std::move(closed).error();
    co_return md5;
}

// A fresh session, one UDP-over-TCP stream to the UDP echo, `count` datagrams echoed and
// compared one by one. Returns how many came back intact.
io::Task<Result<int>> udp_echo(ClientRun* run, std::string host, std::uint16_t port, int count) {
    auto opened =
        co_await session::open_session(*run->reactor, run->client_config, run->padding, 0);
    if (!opened) co_return std::move(opened).error();
    auto session = std::move(opened).value();
    auto udp = co_await session::open_udp_stream(session, host, port, true, kStepTimeout);
    if (!udp) {
        session->close();
        co_return std::move(udp).error();
    }
    std::uniform_int_distribution<std::size_t> size(1, 1200);
    int ok = 0;
    Result<void> failure;
    for (int i = 0; i < count && failure; ++i) {
        std::vector<std::byte> datagram(size(run->random));
        for (auto& b : datagram) b = std::byte{static_cast<unsigned char>(run->random())};
        auto sent = co_await udp->send(datagram, kStepTimeout);
        if (!sent) {
            failure = std::move(sent).error();
            break;
        }
        auto back = co_await udp->receive(kStepTimeout);
        if (!back) {
            failure = std::move(back).error();
            break;
        }
        if (back->payload.size() != datagram.size() ||
            !std::equal(datagram.begin(), datagram.end(),
                        reinterpret_cast<const std::byte*>(back->payload.data()))) {
            failure = make_error(errc::protocol,
                                 "datagram " + std::to_string(i) + " came back different");
            break;
        }
        ++ok;
    }
    auto closed = co_await udp->close();
    (void)closed;
    session->close();
    if (!failure) co_return std::move(failure).error();
    co_return ok;
}

// Waits for the SYNACK, so that the refusal is the open's own error.
io::Task<Result<client::PooledStream>> open_refused(ClientRun* run, std::string host,
                                                    std::uint16_t port) {
    client::OpenOptions options;
    options.wait_connected = true;
    co_return co_await run->pool->open_stream(std::move(host), port, kStepTimeout,
                                              std::move(options));
}

int run_client(const Options& options) {
    session::ClientConfig config;
    std::string server = option(options, "server");
    std::string target = option(options, "target");
    std::string refused = option(options, "refused-target");
    std::string udp_target = option(options, "udp-target");
    int udp_datagrams = 0;
    std::string udp_host;
    std::uint16_t udp_port = 0;
    int sequential = 0;
    int concurrent = 0;
    ClientRun run;
    std::string refused_host;
    std::uint16_t refused_port = 0;
    if (!split_host_port(server, &config.server_host, &config.server_port) ||
        !split_host_port(target, &run.target_host, &run.target_port) ||
        !parse_count(option(options, "sequential", "0"), &sequential) ||
        !parse_count(option(options, "concurrent", "0"), &concurrent) ||
        (!refused.empty() && !split_host_port(refused, &refused_host, &refused_port)) ||
        (!udp_target.empty() && !split_host_port(udp_target, &udp_host, &udp_port)) ||
        !parse_count(option(options, "udp-datagrams", "0"), &udp_datagrams)) {
        std::fprintf(stderr,
                     "peer client: bad --server, --target, --refused-target, --udp-target, "
                     "--sequential, --concurrent or --udp-datagrams\n");
        return 2;
    }
    config.password = option(options, "password");
    config.ca_file = option(options, "ca");
    config.sni = option(options, "sni");
    config.connect_timeout = 5s;
    config.handshake_timeout = 5s;
    config.synack_timeout = 5s;

    io::Reactor reactor;
    std::atomic<std::uint64_t> sequence{0};
    auto padding = std::make_shared<session::PaddingState>();
    const std::string initial_md5 = padding->current()->md5_hex();
    const std::uint64_t seed = std::random_device{}();
    client::SessionPool pool(reactor, "interop", config, config::PoolSettings{}, padding,
                             &sequence);
    pool.start();

    run.reactor = &reactor;
    run.pool = &pool;
    run.client_config = config;
    run.padding = padding;
    run.random.seed(seed);

    int sequential_ok = 0;
    for (int i = 0; i < sequential; ++i) {
        auto done = io::sync_wait(reactor, sequential_stream(&run));
        if (!done) {
            run.note_error("sequential stream " + std::to_string(i), done.error());
            break;
        }
        ++sequential_ok;
    }
    const auto after_sequential = pool.stats();

    run.concurrent_total = concurrent;
    if (run.first_error.empty()) {
        for (int i = 0; i < concurrent; ++i) reactor.spawn(concurrent_stream(&run, i));
        io::sync_wait(reactor, wait_for_concurrent(&run));
        if (run.concurrent_finished < concurrent && run.first_error.empty())
            run.first_error = "concurrent streams did not finish in time";
    }

    int refused_code = 0;
    std::string refused_text;
    if (!refused.empty() && run.first_error.empty()) {
        auto result = io::sync_wait(reactor, open_refused(&run, refused_host, refused_port));
        if (result) {
            run.first_error = "the stream to the refused target opened";
            auto closed = io::sync_wait(reactor, result->close());
            (void)closed;
        } else {
            refused_code = result.error().code;
            refused_text = result.error().text();
            if (refused_code != errc::target_refused)
                run.first_error = "the refused target gave " + std::to_string(refused_code) + " (" +
                                  refused_text + "), not target_refused";
        }
    }
    const auto stats = pool.stats();

    std::string settings_md5;
    if (run.first_error.empty()) {
        auto md5 = io::sync_wait(reactor, fresh_session_md5(&run));
        if (md5)
            settings_md5 = md5.value();
        else
            run.note_error("fresh session", md5.error());
    }

    int udp_ok = 0;
    if (!udp_target.empty() && run.first_error.empty()) {
        auto echoed = io::sync_wait(reactor, udp_echo(&run, udp_host, udp_port, udp_datagrams));
        if (echoed)
            udp_ok = echoed.value();
        else
            run.note_error("UDP-over-TCP", echoed.error());
    }

    io::sync_wait(reactor, pool.shutdown());
    for (int i = 0; i < 20000 && reactor.live_tasks() > 0; ++i) reactor.run_once(true);

    const bool ok = run.first_error.empty() && sequential_ok == sequential &&
                    run.concurrent_ok == concurrent &&
                    (udp_target.empty() || udp_ok == udp_datagrams);
    std::printf(
        "{\"ok\":%s,\"error\":%s,\"seed\":%llu,\"streams_ok\":%d,\"sequential_ok\":%d,\"concurrent_"
        "ok\":%d,"
        "\"sessions_created_sequential\":%llu,\"warm_opens_sequential\":%llu,\"sessions_created\":%"
        "llu,"
        "\"warm_opens\":%llu,\"cold_opens\":%llu,\"retried_opens\":%llu,\"creation_failures\":%llu,"
        "\"closed_error\":%llu,\"refused_code\":%d,\"refused_target_refused\":%s,\"refused_error\":"
        "%s,"
        "\"padding_md5_initial\":%s,\"padding_md5_current\":%s,\"padding_updates\":%zu,"
        "\"settings_padding_md5\":%s,\"udp_ok\":%d}\n",
        ok ? "true" : "false", json_string(run.first_error).c_str(),
        static_cast<unsigned long long>(seed), sequential_ok + run.concurrent_ok, sequential_ok,
        run.concurrent_ok, static_cast<unsigned long long>(after_sequential.created_total),
        static_cast<unsigned long long>(after_sequential.warm_opens),
        static_cast<unsigned long long>(stats.created_total),
        static_cast<unsigned long long>(stats.warm_opens),
        static_cast<unsigned long long>(stats.cold_opens),
        static_cast<unsigned long long>(stats.retried_opens),
        static_cast<unsigned long long>(stats.creation_failures),
        static_cast<unsigned long long>(stats.closed_error), refused_code,
        refused_code == errc::target_refused ? "true" : "false", json_string(refused_text).c_str(),
        json_string(initial_md5).c_str(), json_string(padding->current()->md5_hex()).c_str(),
        padding->updates(), json_string(settings_md5).c_str(), udp_ok);
    std::fflush(stdout);
    return ok ? 0 : 1;
}

void usage() {
    std::fprintf(
        stderr,
        "usage: peer server --listen 127.0.0.1:0 --password P --cert F --key F "
        "[--padding-scheme-file F]\n"
        "       peer client --server HOST:PORT --password P --ca F --sni NAME --target HOST:PORT\n"
        "                   --sequential N --concurrent K [--refused-target HOST:PORT]\n");
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (argc < 2 || !parse_options(argc, argv, &options)) {
        usage();
        return 2;
    }
    if (auto level = option(options, "log-level"); !level.empty()) {
        if (auto parsed = config::parse_log_level(level))
            log::set_level(config::to_log_threshold(*parsed));
    }
    std::string_view mode = argv[1];
    if (mode == "server") return run_server(options);
    if (mode == "client") return run_client(options);
    usage();
    return 2;
}
