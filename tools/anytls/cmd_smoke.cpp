// `anytls smoke`: opens one stream through a proxy's pool and reports how it went.
//
// It starts a Client (lib/client) with the configuration of --config and/or --uri, opens one
// stream to --target HOST:PORT or to the host of --url, and for a URL sends a GET and reads the
// answer. It prints the open time (on a cold pool: connect + TLS handshake + authentication +
// stream open, as the client measures it), the time to the first byte, and the pool's state
// while the stream was open. Failures exit with the network codes of command.hpp, each with a
// sentence that names the reason (open_failure.hpp).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "anytls_build_config.h"
#include "client/client.hpp"
#include "client_config.hpp"
#include "base/host_port.hpp"
#include "command.hpp"
#include "config/duration.hpp"
#include "http_url.hpp"
#include "log/log.hpp"
#include "open_failure.hpp"

namespace anytls::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::array<OptionSpec, 7> kOptions{{
    kClientConfigOption,
    kUriOption,
    kProxyOption,
    {"target", "HOST:PORT",
     "open a stream to this address (a name, an IPv4 address, or [IPv6]:PORT)"},
    {"url", "URL",
     "open a stream to the URL's host and send GET (http:// only); prints the status line"},
    {"timeout", "DURATION", "for the stream open and for each read, e.g. \"5s\" (default 10s)"},
    {"verbose", "", "show the pool's debug log lines on stderr"},
}};

constexpr std::string_view kDescription =
    "Opens one stream through the proxy's session pool, to --target HOST:PORT or to the host of\n"
    "--url. With --url it sends \"GET PATH HTTP/1.1\" (Host header, Connection: close) and prints\n"
    "the status line; any HTTP status counts as success, since the path through the proxy worked.\n"
    "With --target it waits up to one second for the target to speak first and reports it.\n"
    "\n"
    "Prints the proxy, the open time (on a cold pool that is connect + TLS handshake +\n"
    "authentication + stream open, as the client measures it; a warm open reuses an idle\n"
    "session), the time to the first byte, and the pool's state (idle, busy, creating sessions).\n"
    "\n"
    "On failure it prints one sentence naming the reason and exits with its code: 4 the server\n"
    "cannot be reached, 5 TLS verification (unknown CA, hostname mismatch), 6 the server closed\n"
    "the session, with an Alert whose text is shown or at once (a wrong password looks like this:\n"
    "the server just closes), 7 the target refused or is unreachable from the server, 8 timeout.\n"
    "\n"
    "Examples:\n"
    "  anytls smoke --config anytls.toml --url http://example.com/\n"
    "  anytls smoke --uri 'anytls://secret@proxy.example.com/?sni=proxy.example.com' --target "
    "example.com:443\n";

constexpr auto kTargetSpeaksWait = std::chrono::seconds(1);
// How much of an answer --url keeps: the status line is all it prints, and the rest is only
// counted, so a large (or endless) body costs no memory.
constexpr std::size_t kKeptAnswerHead = 8 * 1024;

std::string milliseconds(Clock::duration d) {
    return fmt::format("{:.1f} ms", std::chrono::duration<double, std::milli>(d).count());
}

void print(const Terminal& terminal, std::string_view label, const std::string& text,
           Style style = Style::plain) {
    std::string line = fmt::format("{:<11}{}\n", label, terminal.paint(text, style));
    std::fputs(line.c_str(), stdout);
    std::fflush(stdout);
}

struct Target {
    std::string host;
    std::uint16_t port = 0;
    std::string text;  // "host:port" as given, for messages
};

Result<Target> parse_target(const std::string& text) {
    auto parts = parse_host_port(text);
    if (!parts) {
        return usage_error(fmt::format(
            "--target expects HOST:PORT (an IPv6 host in brackets: [::1]:80), got \"{}\": {}", text,
            parts.error().text()));
    }
    return Target{std::move(parts->host), parts->port, text};
}

std::string pool_line(const client::PoolStats& s) {
    return fmt::format(
        "idle {}, busy {}, creating {}; sessions created {}, opens warm {} / cold {}", s.idle,
        s.busy, s.creating, s.created_total, s.warm_opens, s.cold_opens);
}

struct Request {
    std::optional<Target> target;
    std::optional<HttpUrl> url;
    io::Duration timeout = std::chrono::seconds(10);
    std::string timeout_text = "10s";
};

Result<Request> read_request(const ParsedOptions& options) {
    Request request;
    const std::string* target = options.value("target");
    const std::string* url = options.value("url");
    if ((target == nullptr) == (url == nullptr))
        return usage_error("give exactly one of --target HOST:PORT and --url http://...");
    if (target != nullptr) {
        auto parsed = parse_target(*target);
        if (!parsed) return std::move(parsed).error();
        request.target = std::move(*parsed);
    } else {
        auto parsed = parse_http_url(*url);
        if (!parsed) return std::move(parsed).error();
        request.url = std::move(*parsed);
        request.target = Target{request.url->host, request.url->port,
                                fmt::format("{}:{}", request.url->host, request.url->port)};
    }
    if (const std::string* timeout = options.value("timeout")) {
        auto parsed = parse_positive_duration_option("timeout", *timeout);
        if (!parsed) return std::move(parsed).error();
        request.timeout = std::chrono::duration_cast<io::Duration>(*parsed);
        request.timeout_text = *timeout;
    }
    return request;
}

// --url: sends the GET and reads the whole answer; prints status, first byte and size. It keeps
// only the answer's head (kKeptAnswerHead) and counts the rest.
Result<void> fetch(const Terminal& terminal, client::Stream& stream, const Request& request) {
    const std::string text =
        http_get_request(*request.url, fmt::format("anytls-smoke/{}", ANYTLS_VERSION_STRING));
    print(terminal, "request",
          fmt::format("GET {} (Host: {})", request.url->path, request.url->host_header));
    const auto sent_at = Clock::now();
    if (auto written = stream.write(std::as_bytes(std::span(text)), request.timeout); !written)
        return runtime_error(fmt::format("could not send the request: {}", written.error().text()),
                             written.error().code);
    std::string head;
    std::uint64_t received = 0;
    std::optional<Clock::duration> first_byte;
    std::vector<std::byte> buffer(16 * 1024);
    for (;;) {
        auto n = stream.read(buffer, request.timeout);
        if (!n) {
            if (n.code() == -ETIMEDOUT)
                return make_error(
                    -ETIMEDOUT,
                    fmt::format("timed out: the target sent {} within {} of the request",
                                first_byte ? "nothing more" : "no answer", request.timeout_text));
            if (n.code() == errc::closed) break;
            return runtime_error(fmt::format("reading the answer failed: {}", n.error().text()),
                                 n.error().code);
        }
        if (*n == 0) break;
        if (!first_byte) first_byte = Clock::now() - sent_at;
        received += *n;
        if (head.size() < kKeptAnswerHead)
            head.append(reinterpret_cast<const char*>(buffer.data()),
                        std::min(*n, kKeptAnswerHead - head.size()));
    }
    const auto total = Clock::now() - sent_at;
    if (!first_byte)
        return make_error(errc::closed,
                          fmt::format("the target {} closed the connection without answering",
                                      request.target->text));
    const auto status = http_status_line(head);
    if (!status || !status->starts_with("HTTP/"))
        return runtime_error(fmt::format(
            "the answer of {} is not HTTP (it starts with \"{}\")", request.target->text,
            head.substr(0, std::min<std::size_t>(head.find('\n'), 40))));
    print(terminal, "status", *status,
          status->find(" 2") != std::string::npos ? Style::green : Style::yellow);
    print(terminal, "first byte",
          fmt::format("{} after the request was sent", milliseconds(*first_byte)));
    print(terminal, "received", fmt::format("{} bytes in {}", received, milliseconds(total)));
    return {};
}

// --target: waits briefly for a target that speaks first (SSH, SMTP, ...).
Result<void> listen_briefly(const Terminal& terminal, client::Stream& stream) {
    std::vector<std::byte> buffer(4096);
    const auto started = Clock::now();
    auto n = stream.read(buffer, kTargetSpeaksWait);
    if (!n && n.code() == -ETIMEDOUT) {
        print(terminal, "first byte",
              "none within 1 s (the target waits for the client to speak first)");
        return {};
    }
    if (!n || *n == 0) {
        print(terminal, "first byte", "none: the target closed the connection at once");
        return {};
    }
    print(terminal, "first byte",
          fmt::format("{} after the open ({} bytes)", milliseconds(Clock::now() - started), *n));
    return {};
}

Result<void> run_smoke(const Invocation& invocation) {
    const ParsedOptions& options = invocation.options;
    const Terminal& terminal = invocation.terminal;
    auto request = read_request(options);
    if (!request) return std::move(request).error();
    auto loaded = load_client_configuration(options, "the proxy to test");
    if (!loaded) return std::move(loaded).error();
    auto chosen = choose_proxy(*loaded, options);
    if (!chosen) return std::move(chosen).error();
    const config::ProxyConfig proxy = **chosen;

    // Only the chosen proxy gets a pool: the others would dial their servers for nothing.
    config::ResolvedConfig resolved = loaded->config;
    resolved.proxies = {proxy};
    if (options.has("verbose")) resolved.log_level = config::LogLevel::debug;
    for (const std::string& warning : resolved.warnings)
        std::fputs(fmt::format("anytls smoke: warning: {}\n", warning).c_str(), stderr);
    resolved.warnings.clear();

    print(terminal, "proxy",
          fmt::format("{} ({}, sni {}, certificate {})", proxy.name, server_address(proxy),
                      proxy.sni.empty() ? "-" : proxy.sni,
                      proxy.skip_cert_verify ? "not verified" : "verified"));
    print(terminal, "target", request->target->text);

    auto client = client::Client::create(std::move(resolved));
    if (!client) {
        if (client.code() == errc::config) return config_error(client.error().text());
        return runtime_error(client.error().text(), client.error().code);
    }
    const auto open_started = Clock::now();
    // smoke diagnoses: it waits for the SYNACK, so a refused target or a wrong password is
    // the open's own failure with its own exit code, and the open time includes the SYNACK.
    auto stream = (*client)->open_stream(proxy.name, request->target->host, request->target->port,
                                         request->timeout,
                                         /*wait_connected=*/true);
    const auto open_time = Clock::now() - open_started;
    if (!stream)
        return explain_open_failure(stream.error(), proxy, request->target->text,
                                    request->timeout_text);
    if ((*stream)->warm()) {
        print(terminal, "open",
              fmt::format("{} (warm: reused idle session #{})", milliseconds(open_time),
                          (*stream)->session_seq()));
    } else {
        print(terminal, "open",
              fmt::format(
                  "{} (cold: connect + TLS handshake + authentication + stream open, session #{})",
                  milliseconds(open_time), (*stream)->session_seq()));
    }
    if (auto stats = (*client)->stats(proxy.name)) print(terminal, "pool", pool_line(*stats));

    Result<void> outcome =
        request->url ? fetch(terminal, **stream, *request) : listen_briefly(terminal, **stream);
    (void)(*stream)->close();
    if (!outcome) return outcome;
    print(terminal, "result", "OK: the stream worked", Style::green);
    return {};
}

constexpr Command kSmoke{
    .name = "smoke",
    .summary =
        "open one stream through a proxy and report timing, pool state or the reason it failed",
    .usage =
        "anytls smoke (--config FILE | --uri LINK) [--proxy NAME] (--target HOST:PORT | --url URL) "
        "[options]",
    .description = kDescription,
    .options = kOptions,
    .run = run_smoke,
};
const CommandRegistration kRegistration{kSmoke};

}  // namespace
}  // namespace anytls::cli
