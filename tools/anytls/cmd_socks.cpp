// `anytls socks`: a local SOCKS5 / HTTP entry point that sends every connection through the
// session pool of one configured proxy (lib/inbound/proxy_inbound.hpp, docs/SOCKS.md).
//
// The Client (lib/client) owns the reactor thread and the pools; the inbound and the optional
// /metrics endpoint run as coroutines on that same thread and use the pool's coroutine API
// directly — no thread per connection. Like `anytls server`, SIGINT and SIGTERM are blocked
// before any thread starts and awaited with sigwait(); then the listeners stop, connections
// are ended, and the Client shuts its pools down.
//
// stdout carries only facts scripts parse, one per line, flushed at once:
//   metrics on http://127.0.0.1:PORT/metrics     (with --metrics)
//   listening on 127.0.0.1:PORT                  (last; the real port when ADDR says 0)
// --verbose writes one line per finished connection to stderr. While it runs, the main thread
// looks at the load once a second and gives idle memory back when a burst is over
// (memory_trim.hpp).
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "client/client.hpp"
#include "client_config.hpp"
#include "command.hpp"
#include "inbound/metrics_server.hpp"
#include "inbound/proxy_inbound.hpp"
#include "io/run_blocking.hpp"
#include "log/log.hpp"
#include "memory_trim.hpp"
#include "stop_signals.hpp"

namespace anytls::cli {
namespace {

constexpr std::array<std::string_view, 2> kSocksReplyModes{"immediate", "after-synack"};

constexpr std::array<OptionSpec, 8> kOptions{{
    kClientConfigOption,
    kUriOption,
    kProxyOption,
    {"listen", "ADDR", "listen on this numeric host:port. Default: 127.0.0.1:1080"},
    {"user", "USER:PASS",
     "require this username and password (SOCKS5 RFC 1929; HTTP Proxy-Authorization Basic)"},
    {"metrics", "ADDR",
     "serve the pools' statistics in the Prometheus text format on http://ADDR/metrics"},
    {"verbose", "",
     "log every connection to stderr: client, target, bytes each way, duration, result"},
    {"socks-reply", "WHEN",
     "when a CONNECT is answered: \"immediate\" (default: as soon as the stream is queued, one "
     "round trip "
     "sooner) or \"after-synack\" (once the server reached the target, with a distinct code on "
     "failure)",
     kSocksReplyModes},
}};

constexpr std::string_view kDescription =
    "Runs a local proxy entry point on one port that speaks SOCKS5 (CONNECT and UDP ASSOCIATE,\n"
    "no authentication or username/password), HTTP CONNECT and plain HTTP proxying (absolute\n"
    "http:// URLs), told apart by the first byte. Every connection is opened through the\n"
    "session pool of one proxy (from --config FILE, or --uri LINK, an anytls:// share link);\n"
    "UDP goes over UDP-over-TCP streams.\n"
    "\n"
    "Failures are answered in the client's protocol and say who failed: SOCKS5 0x01 when the\n"
    "proxy did (its server down, TLS, a wrong password), 0x05 when the server reports the target\n"
    "refused, 0x04 / 0x03 when it is unreachable; HTTP 502 (504 for a timeout) with a one-line\n"
    "reason naming the proxy or the target (docs/SOCKS.md, \"Errors\"). Once bound, \"listening on "
    "HOST:PORT\" is printed to stdout (preceded\n"
    "by \"metrics on http://HOST:PORT/metrics\" with --metrics). SIGINT or SIGTERM stops it\n"
    "and exits 0. The metric names are listed in docs/SOCKS.md.\n"
    "\n"
    "Examples:\n"
    "  anytls socks --config client.toml --listen 127.0.0.1:1080\n"
    "  curl --socks5-hostname 127.0.0.1:1080 https://example.com/\n"
    "  curl --proxy http://127.0.0.1:1080 http://example.com/\n";

void print_line(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

Result<io::SocketAddress> parse_address_option(std::string_view option, const std::string& text) {
    auto address = io::SocketAddress::parse_host_port(text);
    if (!address)
        return usage_error(fmt::format(
            "--{} expects a numeric host:port such as 127.0.0.1:1080, got \"{}\"", option, text));
    return address;
}

std::string format_duration(io::Duration d) {
    const double ms = std::chrono::duration<double, std::milli>(d).count();
    return ms < 1000 ? fmt::format("{:.1f}ms", ms) : fmt::format("{:.2f}s", ms / 1000);
}

void log_connection(const inbound::ConnectionRecord& record) {
    const std::string line =
        fmt::format("anytls socks: {} {} -> {}: up {} B, down {} B, {}, {}\n", record.protocol,
                    record.client, record.target.empty() ? "?" : record.target, record.bytes_up,
                    record.bytes_down, format_duration(record.duration), record.result);
    std::fputs(line.c_str(), stderr);
}

// How often the waiting main thread looks at the inbound's load, and the least time between
// two trims of idle memory (memory_trim.hpp).
constexpr auto kLoadTick = std::chrono::seconds(1);
constexpr auto kMinTrimInterval = std::chrono::seconds(5);

// Gives memory back once a burst of connections is over: without it, the RSS of the peak
// stays (docs/RELIABILITY.md, "Idle memory").
void trim_idle_memory(IdleMemoryTrimPolicy& policy, std::size_t open) {
    const io::TimePoint now = std::chrono::steady_clock::now();
    const std::size_t free_bytes = free_heap_bytes();
    if (!policy.should_trim(now, open, free_bytes)) return;
    const TrimOutcome outcome = trim_free_memory();
    policy.trimmed(now, open, outcome.free_after);
    log::debug(
        "[AnyTLS] socks: {} connections and sessions open, {:.1f} MiB free in malloc: trimmed in "
        "{:.1f} ms, "
        "RSS {:.1f} -> {:.1f} MiB",
        open, free_bytes / 1048576.0,
        std::chrono::duration<double, std::milli>(outcome.took).count(),
        outcome.rss_before / 1048576.0, outcome.rss_after / 1048576.0);
}

std::string listen_failure(std::string_view what, const std::string& address, const Error& error) {
    if (error.code == -EADDRINUSE)
        return fmt::format("cannot listen on {} for {}: the address is already in use", address,
                           what);
    if (error.code == -EACCES)
        return fmt::format(
            "cannot listen on {} for {}: permission denied (ports below 1024 need privileges)",
            address, what);
    return fmt::format("cannot listen on {} for {}: {}", address, what, error.text());
}

Result<void> run_socks(const Invocation& invocation) {
    const ParsedOptions& options = invocation.options;
    const std::string listen_text =
        options.value("listen") ? *options.value("listen") : "127.0.0.1:1080";
    auto listen = parse_address_option("listen", listen_text);
    if (!listen) return std::move(listen).error();
    std::optional<io::SocketAddress> metrics_address;
    if (const std::string* metrics = options.value("metrics")) {
        auto parsed = parse_address_option("metrics", *metrics);
        if (!parsed) return std::move(parsed).error();
        metrics_address = *parsed;
    }
    std::optional<inbound::Socks5Credentials> credentials;
    if (const std::string* user = options.value("user")) {
        const auto colon = user->find(':');
        if (colon == std::string::npos || colon == 0)
            return usage_error("--user expects USER:PASS with a non-empty user name");
        if (colon > 255 || user->size() - colon - 1 > 255)
            return usage_error(
                "--user: the user name and the password are limited to 255 bytes each (RFC 1929)");
        credentials = inbound::Socks5Credentials{user->substr(0, colon), user->substr(colon + 1)};
    }
    const bool verbose = options.has("verbose");
    // parse_options allows only kSocksReplyModes.
    const std::string* when = options.value("socks-reply");
    const bool reply_after_synack = when != nullptr && *when == "after-synack";
    auto loaded = load_client_configuration(options, "the proxy that connections go through");
    if (!loaded) return std::move(loaded).error();
    auto chosen = choose_proxy(*loaded, options);
    if (!chosen) return std::move(chosen).error();
    const std::string proxy_name = (*chosen)->name;

    // Before the Client's reactor thread exists, so that it inherits the mask.
    const StopSignals stop_signals;

    const std::string source = loaded->source;
    auto made = client::Client::create(std::move(loaded->config));
    if (!made) {
        const Error& error = made.error();
        if (error.code == errc::config || error.code == errc::invalid_argument ||
            error.code == errc::tls_config)
            return config_error(fmt::format("{}: {}", source, error.text()));
        return runtime_error(error.text(), error.code);
    }
    std::unique_ptr<client::Client> client = std::move(made).value();
    const std::vector<std::string> names = client->proxy_names();
    // Reactor thread only, like everything that touches them below.
    std::shared_ptr<client::SessionPool> pool;
    std::vector<std::pair<std::string, std::shared_ptr<client::SessionPool>>> pools;

    io::ReactorThread& thread = client->reactor_thread();
    std::unique_ptr<inbound::ProxyInbound> inbound;
    std::unique_ptr<inbound::MetricsServer> metrics;
    inbound::InboundOptions inbound_options;
    inbound_options.listen = *listen;
    inbound_options.credentials = credentials;
    inbound_options.reply_after_synack = reply_after_synack;
    if (verbose) inbound_options.on_connection_end = log_connection;

    const auto start_on_reactor =
        [&](const client::OnReactorThread& on_reactor) -> Result<std::string> {
        pool = client->pool(proxy_name, on_reactor);
        for (const auto& n : names) pools.emplace_back(n, client->pool(n, on_reactor));
        if (metrics_address) {
            std::vector<std::pair<std::string, std::weak_ptr<client::SessionPool>>> watched(
                pools.begin(), pools.end());
            metrics = std::make_unique<inbound::MetricsServer>(
                thread.reactor(), *metrics_address, [watched] {
                    std::vector<inbound::ProxyStats> out;
                    for (const auto& [n, weak] : watched)
                        if (auto p = weak.lock()) out.push_back(inbound::ProxyStats{n, p->stats()});
                    return inbound::format_prometheus_metrics(out);
                });
            auto bound = metrics->start();
            if (!bound) {
                metrics.reset();
                return runtime_error(
                    listen_failure("--metrics", metrics_address->to_string(), bound.error()),
                    bound.error().code);
            }
            print_line(fmt::format("metrics on http://{}/metrics", bound->to_string()));
        }
        inbound = std::make_unique<inbound::ProxyInbound>(thread.reactor(), pool,
                                                          std::move(inbound_options));
        auto bound = inbound->start();
        if (!bound) {
            inbound.reset();
            metrics.reset();
            return runtime_error(listen_failure("the entry point", listen_text, bound.error()),
                                 bound.error().code);
        }
        return bound->to_string();
    };
    auto started = client->on_reactor_thread(start_on_reactor);
    if (!started) return std::move(started).error();
    log::info("[AnyTLS] socks: connections go through proxy \"{}\"", proxy_name);
    print_line(fmt::format("listening on {}", *started));

    IdleMemoryTrimPolicy trim_policy(kMinTrimInterval);
    const std::string_view signal_name = stop_signals.wait(kLoadTick, [&] {
        // What holds memory: the connections and the pools' sessions.
        const std::size_t open = thread.call([&] {
            std::size_t count = inbound->open_connections();
            for (const auto& named : pools) {
                const client::PoolStats stats = named.second->stats();
                count += stats.idle + stats.busy + stats.creating;
            }
            return count;
        });
        trim_idle_memory(trim_policy, open);
    });
    log::info("[AnyTLS] {} received: stopping the entry point", signal_name);
    // The connections' waits are cancelled (an open in flight too) and their coroutines joined.
    if (metrics) io::run_blocking(thread, metrics->shutdown());
    io::run_blocking(thread, inbound->shutdown());
    thread.call([&] {
        inbound.reset();
        metrics.reset();
        // The pools belong to the reactor thread: drop these references there, before the
        // Client shuts them down.
        pool.reset();
        pools.clear();
    });
    client.reset();
    return {};
}

constexpr Command kSocks{
    .name = "socks",
    .summary =
        "run a local SOCKS5 / HTTP proxy entry point that sends connections through the pool",
    .usage =
        "anytls socks --config FILE | --uri LINK [--listen ADDR] [--proxy NAME] [--user USER:PASS] "
        "[--metrics ADDR] [--socks-reply WHEN] [--verbose]",
    .description = kDescription,
    .options = kOptions,
    .run = run_socks,
};
const CommandRegistration kRegistration{kSocks};

}  // namespace
}  // namespace anytls::cli
