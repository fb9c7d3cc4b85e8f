// `anytls server`: runs the AnyTLS inbound (lib/server) from a TOML file (docs/SERVER.md).
//
// The file is loaded and turned into server::ServerConfig by server::load_server_config_file
// (lib/server/load_server_config.hpp), the loader anytls_server_start uses too. The server runs
// on a ServerGroup of `threads` reactor threads (lib/server/server_group.hpp); the main thread
// blocks SIGINT and SIGTERM before those threads start (so they inherit the mask and never see
// them) and waits for one with sigwait(). Then it cancels and joins every connection, and
// exits 0.
//
// stdout carries only facts scripts parse, each on one line and flushed at once:
//   certificate sha256 AB:CD:...          (self-signed only)
//   certificate written to FILE           (--write-cert)
//   metrics on http://127.0.0.1:PORT/metrics  (with metrics or --metrics)
//   listening on 127.0.0.1:PORT           (last; the real port when the file said 0)
// Logs go to stderr at the file's log-level.
#include <fmt/format.h>
#include <pthread.h>
#include <signal.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>

#include "command.hpp"
#include "config/server_config_loader.hpp"
#include "log/log.hpp"
#include "server/load_server_config.hpp"
#include "inbound/server_metrics_endpoint.hpp"
#include "server/server_group.hpp"
#include "stop_signals.hpp"

namespace anytls::cli {
namespace {

constexpr std::array<OptionSpec, 7> kOptions{{
    {"config", "FILE",
     "the server's TOML configuration file (required; every key is in docs/SERVER.md)"},
    {"listen", "ADDR",
     "listen on this numeric host:port instead of the file's listen, e.g. 127.0.0.1:0"},
    {"self-signed", "",
     "generate a self-signed certificate at start (instead of the file's certificate)"},
    {"write-cert", "FILE",
     "write the generated certificate (PEM) to FILE, for clients to trust as their CA"},
    {"metrics", "ADDR",
     "serve the server's statistics in the Prometheus text format on http://ADDR/metrics, "
     "instead of the file's metrics"},
    {"check", "",
     "check the configuration as a start would (keys, users, scheme, certificate and key), "
     "print one line and exit, binding nothing"},
    {"threads", "N",
     "reactor threads, 1 to 256, instead of the file's threads. Default: the online CPUs, at "
     "most 16"},
}};

constexpr std::string_view kDescription =
    "Runs an AnyTLS server: TLS, password authentication (failed attempts are closed or relayed\n"
    "to the configured fallback), Settings and padding-scheme updates, SYNACK, and a TCP relay\n"
    "to each stream's target. The configuration file's keys are documented in docs/SERVER.md.\n"
    "\n"
    "Once bound, one line \"listening on HOST:PORT\" is printed to stdout (with the real port\n"
    "when the address says port 0). With a self-signed certificate (self-signed = true in the\n"
    "file, or --self-signed), \"certificate sha256 <fingerprint>\" comes first, and with\n"
    "--write-cert also \"certificate written to FILE\"; the key is never written. Logs go to\n"
    "stderr at the file's log-level. SIGINT or SIGTERM stops the server and exits 0. SIGHUP\n"
    "reloads the file's users and padding-scheme for new connections without dropping any\n"
    "session; a file that does not load is refused with its error, and the old one stays.\n"
    "\n"
    "The server runs `threads` reactor threads (--threads; by default one per online CPU, at\n"
    "most 16). --check loads and checks the file as a start would, certificate and key\n"
    "included, prints \"configuration ok: ...\" and exits 0, or exits 3 with the error.\n"
    "\n"
    "Example:\n"
    "  anytls server --config server.toml --listen 127.0.0.1:0 --self-signed --write-cert ca.pem\n";

void print_line(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);  // read line by line by tests and scripts
}

Result<void> write_certificate(const std::string& path, const std::string& pem) {
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (file == nullptr) {
        const int error = errno;
        return runtime_error(
            fmt::format("cannot write the certificate to \"{}\": {}", path, std::strerror(error)),
            -error);
    }
    const bool written = std::fwrite(pem.data(), 1, pem.size(), file) == pem.size();
    const int write_error = errno;
    const bool closed = std::fclose(file) == 0;
    if (!written || !closed)
        return runtime_error(fmt::format("cannot write the certificate to \"{}\": {}", path,
                                         std::strerror(write_error)),
                             -write_error);
    return {};
}

std::string listen_failure(const std::string& address, const Error& error) {
    switch (error.code) {
        case -EADDRINUSE:
            return fmt::format(
                "cannot listen on {}: the address is already in use (is another server running?)",
                address);
        case -EACCES:
            return fmt::format(
                "cannot listen on {}: permission denied (ports below 1024 need privileges)",
                address);
        case -EADDRNOTAVAIL:
            return fmt::format("cannot listen on {}: no local interface has that address", address);
        default:
            return fmt::format("cannot listen on {}: {}", address, error.text());
    }
}

// The configuration or certificate error of a start, worded as the start words it.
Result<void> start_failure(const std::string& config_path, const Error& error) {
    if (error.code == errc::config || error.code == errc::tls_config)
        return config_error(fmt::format("{}: {}", config_path, error.text()));
    return runtime_error(error.text(), error.code);
}

// --check: what a start would refuse, without a reactor or a socket. stdout gets one line.
Result<void> check_configuration(const std::string& config_path,
                                 const server::ServerConfig& config) {
    if (auto checked = server::Server::check(config); !checked)
        return start_failure(config_path, checked.error());
    const unsigned threads =
        config.threads == 0 ? server::default_server_threads() : config.threads;
    print_line(fmt::format("configuration ok: {}: listen {}, {} user{}, {} thread{}", config_path,
                           config.listen, config.users.size(), config.users.size() == 1 ? "" : "s",
                           threads, threads == 1 ? "" : "s"));
    return {};
}

// SIGHUP: the file again, for its users and padding-scheme (docs/SERVER.md, "Reloading").
// A file that does not load changes nothing, and says why.
void reload(const std::string& config_path, const server::ServerConfigOptions& load_options,
            server::ServerGroup& group) {
    auto loaded = server::load_server_config_file(config_path, load_options);
    Result<void> reloaded =
        loaded ? group.reload(loaded->config) : Result<void>(std::move(loaded).error());
    if (!reloaded) {
        log::error("[AnyTLS] SIGHUP: {} not reloaded, the running configuration stays: {}",
                   config_path, reloaded.error().text());
        return;
    }
    const auto& users = loaded->config.users;
    log::info(
        "[AnyTLS] SIGHUP: reloaded {}: {} user{} and the padding scheme, for new connections "
        "(other keys take effect at the next start)",
        config_path, users.size(), users.size() == 1 ? "" : "s");
}

Result<void> run_server(const Invocation& invocation) {
    const ParsedOptions& options = invocation.options;
    const std::string* config_path = options.value("config");
    if (config_path == nullptr || config_path->empty())
        return usage_error(
            "--config FILE is required: the server's configuration file (see docs/SERVER.md)");
    // --listen and --metrics: checked as the file's listen and metrics are.
    auto address_option = [&](std::string_view name, std::string& out) -> Result<void> {
        const std::string* text = options.value(name);
        if (text == nullptr) return {};
        if (auto checked = config::check_listen_address(*text); !checked)
            return usage_error(fmt::format("--{} {}", name, checked.error().message));
        out = *text;
        return {};
    };
    std::string listen_override;
    if (auto checked = address_option("listen", listen_override); !checked) return checked;
    const bool self_signed_option = options.has("self-signed");
    std::string write_cert_path;
    if (const std::string* path = options.value("write-cert")) {
        if (path->empty()) return usage_error("--write-cert needs a file name");
        write_cert_path = *path;
    }

    std::string metrics_override;
    if (auto checked = address_option("metrics", metrics_override); !checked) return checked;
    const bool check_only = options.has("check");
    if (check_only && !write_cert_path.empty())
        return usage_error("--check writes nothing; leave out --write-cert");
    unsigned threads_override = 0;
    if (const std::string* threads = options.value("threads")) {
        auto count = parse_unsigned_option("threads", *threads);
        if (!count) return std::move(count).error();
        if (*count < 1 || *count > config::kMaxServerThreads)
            return usage_error(fmt::format("--threads expects a whole number from 1 to {}, got {}",
                                           config::kMaxServerThreads, *count));
        threads_override = static_cast<unsigned>(*count);
    }

    server::ServerConfigOptions load_options;
    load_options.listen = listen_override;
    load_options.self_signed = self_signed_option;
    load_options.listen_hint = " (or pass --listen ADDR)";
    load_options.certificate_hint = " (or pass --self-signed)";
    auto loaded = server::load_server_config_file(*config_path, load_options);
    if (!loaded) {
        // Only the certificate generator's own failure is not the file's fault.
        if (loaded.code() == errc::tls_config) return runtime_error(loaded.error().text());
        return config_error(loaded.error().text());
    }
    const bool self_signed = !loaded->self_signed_fingerprint.empty();
    if (!write_cert_path.empty() && !self_signed)
        return usage_error(
            "--write-cert saves a generated certificate; it needs --self-signed or self-signed = "
            "true");
    log::set_level(config::to_log_threshold(loaded->log_level));
    const std::string listen_address = loaded->config.listen;
    server::ServerConfig server_config = std::move(loaded->config);
    if (threads_override != 0) server_config.threads = threads_override;
    if (!metrics_override.empty()) server_config.metrics = metrics_override;
    if (check_only) return check_configuration(*config_path, server_config);
    if (self_signed) {
        if (self_signed_option && loaded->certificate_files_ignored)
            log::info("[AnyTLS] --self-signed: ignoring the certificate and private-key of {}",
                      *config_path);
        print_line(fmt::format("certificate sha256 {}", loaded->self_signed_fingerprint));
        if (!write_cert_path.empty()) {
            if (auto written =
                    write_certificate(write_cert_path, loaded->self_signed_certificate_pem);
                !written)
                return written;
            print_line(fmt::format("certificate written to {}", write_cert_path));
        } else {
            log::info(
                "[AnyTLS] self-signed certificate not saved; --write-cert FILE saves it for "
                "clients");
        }
    }

    // Before the reactor threads exist, so that they inherit the mask.
    const StopSignals stop_signals(/*hangup=*/true);

    const std::string metrics_address = server_config.metrics;
    auto started = server::ServerGroup::start(std::move(server_config));
    if (!started) {
        const Error& error = started.error();
        // The configuration's and the reactor's errors as --check words them; the rest are
        // the listen address's.
        if (error.code == errc::config || error.code == errc::tls_config || error.code == -EIO)
            return start_failure(*config_path, error);
        return runtime_error(listen_failure(listen_address, error), error.code);
    }
    std::unique_ptr<server::ServerGroup> group = std::move(started).value();
    std::unique_ptr<inbound::ServerMetricsEndpoint> metrics;
    if (!metrics_address.empty()) {
        auto served = inbound::ServerMetricsEndpoint::start(*group, metrics_address);
        if (!served)
            return runtime_error(listen_failure(metrics_address, served.error()),
                                 served.error().code);
        metrics = std::move(served).value();
        print_line(fmt::format("metrics on http://{}/metrics", metrics->address().to_string()));
    }
    print_line(fmt::format("listening on {}", group->local_address().to_string()));

    const std::string_view signal_name =
        stop_signals.wait([&] { reload(*config_path, load_options, *group); });
    log::info("[AnyTLS] {} received: stopping the server", signal_name);
    // Every connection's waits are cancelled, and the servers' coroutines joined, thread by
    // thread.
    metrics.reset();
    group->shutdown();
    const server::ServerStats stats = group->stats();
    log::info(
        "[AnyTLS] server stopped: {} connections, {} sessions, {} authentication failures, {} "
        "fallbacks, {} streams",
        stats.connections_accepted, stats.sessions_authenticated, stats.auth_failures,
        stats.fallbacks, stats.streams_opened);
    return {};
}

constexpr Command kServer{
    .name = "server",
    .summary = "run an AnyTLS server from a TOML configuration file",
    .usage =
        "anytls server --config FILE [--listen ADDR] [--threads N] [--metrics ADDR] [--check] "
        "[--self-signed] [--write-cert FILE]",
    .description = kDescription,
    .options = kOptions,
    .run = run_server,
};
const CommandRegistration kRegistration{kServer};

}  // namespace
}  // namespace anytls::cli
