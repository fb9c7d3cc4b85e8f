// `anytls server`: runs the AnyTLS inbound (lib/server) from a TOML file (docs/SERVER.md).
//
// The file is loaded and turned into server::ServerConfig by server::load_server_config_file
// (lib/server/load_server_config.hpp), the loader anytls_server_start uses too. The server runs
// on a ReactorThread; the main thread blocks SIGINT and SIGTERM before that thread starts (so
// the reactor thread inherits the mask and never sees them) and waits for one with sigwait().
// Then it stops the server, lets its connection coroutines unwind for a moment, and exits 0.
//
// stdout carries only facts scripts parse, each on one line and flushed at once:
//   certificate sha256 AB:CD:...          (self-signed only)
//   certificate written to FILE           (--write-cert)
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
#include "io/reactor_thread.hpp"
#include "io/run_blocking.hpp"
#include "log/log.hpp"
#include "server/load_server_config.hpp"
#include "server/server.hpp"
#include "stop_signals.hpp"

namespace anytls::cli {
namespace {

constexpr std::array<OptionSpec, 4> kOptions{{
    {"config", "FILE",
     "the server's TOML configuration file (required; every key is in docs/SERVER.md)"},
    {"listen", "ADDR",
     "listen on this numeric host:port instead of the file's listen, e.g. 127.0.0.1:0"},
    {"self-signed", "",
     "generate a self-signed certificate at start (instead of the file's certificate)"},
    {"write-cert", "FILE",
     "write the generated certificate (PEM) to FILE, for clients to trust as their CA"},
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
    "stderr at the file's log-level. SIGINT or SIGTERM stops the server and exits 0.\n"
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

Result<void> run_server(const Invocation& invocation) {
    const ParsedOptions& options = invocation.options;
    const std::string* config_path = options.value("config");
    if (config_path == nullptr || config_path->empty())
        return usage_error(
            "--config FILE is required: the server's configuration file (see docs/SERVER.md)");
    std::string listen_override;
    if (const std::string* listen = options.value("listen")) {
        if (auto checked = config::check_listen_address(*listen); !checked)
            return usage_error(fmt::format("--listen {}", checked.error().message));
        listen_override = *listen;
    }
    const bool self_signed_option = options.has("self-signed");
    std::string write_cert_path;
    if (const std::string* path = options.value("write-cert")) {
        if (path->empty()) return usage_error("--write-cert needs a file name");
        write_cert_path = *path;
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

    // Before the reactor thread exists, so that it inherits the mask.
    const StopSignals stop_signals;

    std::unique_ptr<io::ReactorThread> thread;
    try {
        thread = std::make_unique<io::ReactorThread>();
    } catch (const std::exception& e) {
        return runtime_error(fmt::format("cannot start the reactor: {}", e.what()));
    }
    io::ReactorThread& reactor_thread = *thread;
    std::unique_ptr<server::Server> server;  // created, used and destroyed on the reactor thread

    auto created = reactor_thread.call([&]() -> Result<void> {
        auto made = server::Server::create(reactor_thread.reactor(), std::move(server_config));
        if (!made) return std::move(made).error();
        server = std::move(made).value();
        return {};
    });
    if (!created) {
        const Error& error = created.error();
        // The certificate, key or scheme of the file: a configuration error.
        if (error.code == errc::config || error.code == errc::tls_config)
            return config_error(fmt::format("{}: {}", *config_path, error.text()));
        return runtime_error(error.text(), error.code);
    }
    auto started = reactor_thread.call([&]() -> Result<std::string> {
        if (auto result = server->start(); !result) {
            server.reset();
            return std::move(result).error();
        }
        return server->local_address().to_string();
    });
    if (!started)
        return runtime_error(listen_failure(listen_address, started.error()), started.error().code);
    print_line(fmt::format("listening on {}", *started));

    const std::string_view signal_name = stop_signals.wait();
    log::info("[AnyTLS] {} received: stopping the server", signal_name);
    // Every connection's waits are cancelled, and the server's coroutines joined.
    io::run_blocking(reactor_thread, server->shutdown());
    reactor_thread.call([&] {
        const auto& stats = server->stats();
        log::info(
            "[AnyTLS] server stopped: {} connections, {} sessions, {} authentication failures, {} "
            "fallbacks, "
            "{} streams",
            stats.connections_accepted, stats.sessions_authenticated, stats.auth_failures,
            stats.fallbacks, stats.streams_opened);
        server.reset();
    });
    thread.reset();
    return {};
}

constexpr Command kServer{
    .name = "server",
    .summary = "run an AnyTLS server from a TOML configuration file",
    .usage = "anytls server --config FILE [--listen ADDR] [--self-signed] [--write-cert FILE]",
    .description = kDescription,
    .options = kOptions,
    .run = run_server,
};
const CommandRegistration kRegistration{kServer};

}  // namespace
}  // namespace anytls::cli
