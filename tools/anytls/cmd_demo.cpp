// `anytls demo`: the whole product on loopback, with no setup — the README's first command.
//
// It starts an AnyTLS server with a fresh self-signed certificate and an echo target
// (demo_backend.hpp), a Client whose pool keeps warm sessions (ensure 5, rate 2, lifetime 20s
// with 5s jitter, idle timeout 8s, check every 2s), and drives bursts of verified echo streams
// through it (demo_driver.hpp) while it shows the pool's own debug lines and a status line
// (demo_console.hpp). It ends with a summary and exits 0 when every stream came back intact.
//
// Runs shorter than 30 s scale the built-in pool durations by duration/30 s, so sessions still
// reach their lifetime and rotate within the run (the output says so); when no session has
// rotated by the end, the demo waits a bounded while for the first rotation. --config takes the
// pool settings of a file instead, unscaled. Nothing listens or connects beyond 127.0.0.1.
#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>
#include <thread>

#include "anytls_build_config.h"
#include "client/client.hpp"
#include "command.hpp"
#include "config/config.hpp"
#include "config/duration.hpp"
#include "demo_backend.hpp"
#include "demo_console.hpp"
#include "demo_driver.hpp"
#include "log/log.hpp"

namespace anytls::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kDefaultDuration = 30s;
constexpr auto kMaxDuration = std::chrono::hours(24);
constexpr auto kRotationWaitLimit = 60s;
constexpr const char* kProxyName = "demo";

constexpr std::array<OptionSpec, 4> kOptions{{
    {"duration", "SECONDS",
     "how long to drive traffic: seconds (\"30\") or a duration (\"30s\", \"2m\"); default 30"},
    {"config", "FILE",
     "take the pool settings from this client configuration (its first proxy, or --proxy)"},
    {"proxy", "NAME", "with --config: the proxy whose pool settings to use"},
    {"seed", "N", "seed of the random traffic, to repeat a run (default: random)"},
}};

constexpr std::string_view kDescription =
    "Runs everything on 127.0.0.1 and touches nothing else: an AnyTLS server with a fresh\n"
    "self-signed certificate (the client verifies it), an echo target, and a client whose pool\n"
    "keeps warm sessions (ensure 5, rate 2, lifetime 20s +/- 5s, idle timeout 8s, check every "
    "2s).\n"
    "Bursts of 1 to 8 streams carry 1 byte to 256 KiB each to the echo target and back, every\n"
    "byte verified. The pool's debug lines appear as they happen, under a status line (idle /\n"
    "busy / creating sessions, sessions rotated, p50 open latency), redrawn in place on a\n"
    "terminal and printed every few seconds otherwise.\n"
    "\n"
    "The summary shows the streams, the bytes verified, warm against cold open latency (p50,\n"
    "p99), and the sessions created and closed by reason. Runs shorter than 30s scale the pool's\n"
    "durations down so that sessions still rotate (closed by age) within the run.\n"
    "\n"
    "Exit status 0 when every stream came back intact, 1 when any failed.\n"
    "\n"
    "Examples:\n"
    "  anytls demo\n"
    "  anytls demo --duration 10s\n"
    "  anytls demo --config anytls.toml --proxy ha-service\n";

Result<config::Duration> parse_duration_argument(const std::string& text) {
    if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
        auto seconds = parse_unsigned_option("duration", text);
        if (!seconds) return std::move(seconds).error();
        if (*seconds == 0 || *seconds > 86400)
            return usage_error("--duration must be from 1 second to 24 hours");
        return config::Duration(std::chrono::seconds(*seconds));
    }
    auto duration = parse_positive_duration_option("duration", text);
    if (!duration) return std::move(duration).error();
    if (*duration > kMaxDuration) return usage_error("--duration must be at most 24 hours");
    if (*duration < 1s) return usage_error("--duration must be at least 1 second");
    return *duration;
}

config::PoolSettings builtin_pool(config::Duration duration, std::string& note) {
    config::PoolSettings pool;
    pool.ensure_idle_session = 5;
    pool.ensure_idle_session_create_rate = 2;
    double scale = 1.0;
    if (duration < kDefaultDuration) {
        scale = std::chrono::duration<double>(duration) /
                std::chrono::duration<double>(kDefaultDuration);
    }
    auto scaled = [scale](config::Duration d) {
        return std::chrono::duration_cast<config::Duration>(
            std::chrono::milliseconds(std::max<long long>(
                50, static_cast<long long>(std::chrono::duration<double, std::milli>(d).count() *
                                           scale))));
    };
    pool.max_connection_lifetime = scaled(20s);
    pool.connection_lifetime_jitter = scaled(5s);
    pool.idle_session_timeout = scaled(8s);
    pool.idle_session_check_interval = scaled(2s);
    if (scale < 1.0)
        note = fmt::format("scaled by {:.2f} to fit the {} run, so sessions still rotate", scale,
                           config::format_duration(duration));
    return pool;
}

Result<config::PoolSettings> pool_from_file(const std::string& path, const std::string* proxy,
                                            std::string& note) {
    config::LoadOptions options;
    auto loaded = config::load_config_file(path, options);
    if (!loaded) {
        std::string message = loaded.error().text();
        if (message.find(path) == std::string::npos) message = fmt::format("{}: {}", path, message);
        return config_error(std::move(message));
    }
    if (proxy != nullptr) {
        for (const auto& p : loaded->proxies) {
            if (p.name == *proxy) {
                note = fmt::format("from {}, proxy \"{}\" (its server is not contacted)", path,
                                   p.name);
                return p.pool;
            }
        }
        return usage_error(fmt::format("{} has no proxy named \"{}\"", path, *proxy));
    }
    if (!loaded->proxies.empty()) {
        note = fmt::format("from {}, proxy \"{}\" (its server is not contacted)", path,
                           loaded->proxies.front().name);
        return loaded->proxies.front().pool;
    }
    note = fmt::format("from {} ([experimental.anytls-session-management])", path);
    return loaded->global_pool;
}

std::string describe_pool(const config::PoolSettings& pool) {
    const std::string lifetime =
        pool.max_connection_lifetime.count() == 0
            ? std::string("off")
            : fmt::format("{} +/- {}", config::format_duration(pool.max_connection_lifetime),
                          config::format_duration(pool.connection_lifetime_jitter));
    return fmt::format("ensure {}, rate {}, lifetime {}, idle timeout {}, check every {}",
                       pool.ensure_idle_session, pool.ensure_idle_session_create_rate, lifetime,
                       config::format_duration(pool.idle_session_timeout),
                       config::format_duration(pool.idle_session_check_interval));
}

std::string status_text(Clock::duration elapsed, const client::PoolStats& stats,
                        const DemoTotals& totals) {
    std::vector<double> opens = totals.warm_open_ms;
    opens.insert(opens.end(), totals.cold_open_ms.begin(), totals.cold_open_ms.end());
    return fmt::format(
        "[{:5.1f}s] idle {} busy {} creating {} | rotated {} | streams {} ok {} failed | open p50 "
        "{:.2f} ms",
        std::chrono::duration<double>(elapsed).count(), stats.idle, stats.busy, stats.creating,
        stats.closed_age, totals.streams_ok, totals.streams_failed, percentile(opens, 50));
}

std::string bytes_text(std::uint64_t bytes) {
    if (bytes >= 1024 * 1024)
        return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
    if (bytes >= 1024) return fmt::format("{:.1f} KiB", static_cast<double>(bytes) / 1024.0);
    return fmt::format("{} bytes", bytes);
}

std::string latency_text(const std::vector<double>& values) {
    if (values.empty()) return "none";
    return fmt::format("p50 {:.2f} ms, p99 {:.2f} ms ({} opens)", percentile(values, 50),
                       percentile(values, 99), values.size());
}

void print_summary(DemoConsole& console, const Terminal& terminal, Clock::duration elapsed,
                   const client::PoolStats& stats, const DemoTotals& totals) {
    console.line("");
    console.line(terminal.paint(
        fmt::format("Summary after {:.1f} s", std::chrono::duration<double>(elapsed).count()),
        Style::bold));
    const std::uint64_t total = totals.streams_ok + totals.streams_failed;
    console.line(fmt::format("  streams    {} opened, {} verified, {} failed", total,
                             totals.streams_ok, totals.streams_failed));
    console.line(fmt::format("  bytes      {} sent and echoed back, every byte verified",
                             bytes_text(totals.bytes_verified)));
    console.line(fmt::format("  open warm  {}", latency_text(totals.warm_open_ms)));
    console.line(fmt::format("  open cold  {}", latency_text(totals.cold_open_ms)));
    console.line(fmt::format("  sessions   created {}, creation failures {}", stats.created_total,
                             stats.creation_failures));
    console.line(fmt::format(
        "  closed     by age {}, by idle timeout {}, by heartbeat {}, by error {}, by reset {}, "
        "without reuse {}",
        stats.closed_age, stats.closed_idle, stats.closed_heartbeat, stats.closed_error,
        stats.closed_reset, stats.closed_no_reuse));
    console.line(
        stats.closed_age > 0
            ? terminal.paint(
                  fmt::format("  rotation   yes: {} sessions reached their lifetime and were "
                              "replaced (closed by age {})",
                              stats.closed_age, stats.closed_age),
                  Style::green)
            : "  rotation   none: no session reached its lifetime");
}

// The pool's own lines (and every warning); the embedded server's lines are left out: they
// start with a lower-case word ("[AnyTLS] user ... authenticated"), the client's with a capital.
bool shown(log::Level level, std::string_view message) {
    if (level <= log::Level::warn) return true;
    constexpr std::string_view prefix = "[AnyTLS] ";
    if (!message.starts_with(prefix) || message.size() == prefix.size()) return false;
    const char first = message[prefix.size()];
    return first >= 'A' && first <= 'Z';
}

Result<void> run_demo(const Invocation& invocation) {
    const ParsedOptions& options = invocation.options;
    const Terminal& terminal = invocation.terminal;
    config::Duration duration = kDefaultDuration;
    if (const std::string* text = options.value("duration")) {
        auto parsed = parse_duration_argument(*text);
        if (!parsed) return std::move(parsed).error();
        duration = *parsed;
    }
    std::uint64_t seed = std::random_device{}();
    if (const std::string* text = options.value("seed")) {
        auto parsed = parse_unsigned_option("seed", *text);
        if (!parsed) return std::move(parsed).error();
        seed = *parsed;
    }
    std::string pool_note;
    config::PoolSettings pool;
    if (const std::string* path = options.value("config")) {
        auto loaded = pool_from_file(*path, options.value("proxy"), pool_note);
        if (!loaded) return std::move(loaded).error();
        pool = std::move(*loaded);
    } else {
        if (options.has("proxy"))
            return usage_error("--proxy chooses a proxy of --config FILE; give --config too");
        pool = builtin_pool(duration, pool_note);
    }

    DemoConsole console(stdout_is_live_terminal());
    console.line(terminal.paint(
        "anytls demo: an AnyTLS server, an echo target and a pooled client, all on 127.0.0.1",
        Style::bold));
    log::set_sink([&console](log::Level level, std::string_view message) {
        if (shown(level, message))
            console.line(fmt::format("[{}] {}", log::level_name(level), message));
    });
    struct SinkRestore {
        ~SinkRestore() {
            log::set_sink([](log::Level, std::string_view) {});
        }
    } restore_sink;

    auto backend = DemoBackend::start();
    if (!backend) return runtime_error(backend.error().text(), backend.error().code);
    console.line(fmt::format(
        "  server     127.0.0.1:{} (self-signed certificate, sha256 {}...; the client verifies it)",
        (*backend)->server_port(), (*backend)->fingerprint().substr(0, 23)));
    console.line(fmt::format("  target     echo on 127.0.0.1:{}", (*backend)->echo_port()));
    console.line(fmt::format("  pool       {}", describe_pool(pool)));
    if (!pool_note.empty()) console.line(fmt::format("             {}", pool_note));
    console.line(fmt::format(
        "  traffic    bursts of 1 to 8 streams, 1 byte to 256 KiB each, for {} (seed {})",
        config::format_duration(duration), seed));
    console.line("");

    config::ResolvedConfig client_config;
    client_config.log_level = config::LogLevel::debug;
    client_config.global_pool = pool;
    config::ProxyConfig proxy;
    proxy.name = kProxyName;
    proxy.server = "127.0.0.1";
    proxy.port = (*backend)->server_port();
    proxy.password = (*backend)->password();
    proxy.sni = "localhost";
    proxy.ca_file = (*backend)->ca_file();
    proxy.pool = pool;
    client_config.proxies.push_back(std::move(proxy));

    auto client = client::Client::create(std::move(client_config));
    if (!client) return runtime_error(client.error().text(), client.error().code);

    const auto started = Clock::now();
    DemoDriver driver(**client, kProxyName, (*backend)->echo_port(), seed);
    std::atomic<bool> driving{true};
    std::thread traffic([&] {
        driver.run_until(started + duration);
        driving = false;
    });
    const auto period =
        console.live() ? std::chrono::milliseconds(200) : std::chrono::milliseconds(2000);
    client::PoolStats stats;
    auto next_status = Clock::now();
    auto refresh = [&](bool print) {
        if (auto current = (*client)->stats(kProxyName)) stats = *current;
        if (print) console.status(status_text(Clock::now() - started, stats, driver.totals()));
    };
    while (driving) {
        const bool due = Clock::now() >= next_status;
        refresh(due);
        if (due) next_status += period;
        std::this_thread::sleep_for(50ms);
    }
    traffic.join();
    refresh(true);

    // A run too short (or a machine too slow) for any session to reach its lifetime: wait a
    // bounded while for the first rotation, since showing it is the point of the demo.
    if (stats.closed_age == 0 && pool.max_connection_lifetime.count() > 0) {
        const auto limit = std::min<Clock::duration>(
            kRotationWaitLimit, pool.max_connection_lifetime + pool.connection_lifetime_jitter +
                                    2 * pool.idle_session_check_interval);
        console.line(
            "traffic done; waiting for the first session to reach its lifetime and rotate");
        const auto give_up = Clock::now() + limit;
        while (stats.closed_age == 0 && Clock::now() < give_up) {
            std::this_thread::sleep_for(period);
            refresh(true);
        }
    }
    const auto elapsed = Clock::now() - started;
    console.end_status();
    const DemoTotals totals = driver.totals();

    // Quiet teardown: the sessions' closing lines would only follow the summary.
    log::set_sink([](log::Level, std::string_view) {});
    client->reset();
    backend->reset();
    print_summary(console, terminal, elapsed, stats, totals);

    const std::uint64_t total = totals.streams_ok + totals.streams_failed;
    if (totals.streams_failed > 0)
        return runtime_error(fmt::format("{} of {} streams failed; the first: {}",
                                         totals.streams_failed, total, totals.first_failure));
    if (total == 0) return runtime_error("no stream was opened in the time given");
    return {};
}

constexpr Command kDemo{
    .name = "demo",
    .summary =
        "run a server, an echo target and a pooled client on loopback and watch the pool work",
    .usage = "anytls demo [--duration SECONDS] [--config FILE [--proxy NAME]] [--seed N]",
    .description = kDescription,
    .options = kOptions,
    .run = run_demo,
};
const CommandRegistration kRegistration{kDemo};

}  // namespace
}  // namespace anytls::cli
