// The server's configuration file (`anytls server --config server.toml`; every key is
// documented in docs/SERVER.md):
//
//   listen = "127.0.0.1:8443"            numeric host:port, "[::1]:8443" for IPv6; port 0 picks one
//   certificate = "server.pem"           PEM chain, with private-key = "server.key"
//   certificate-pem = '''-----BEGIN...'''   ...or the PEM text, with private-key-pem
//   self-signed = true                   ...or a certificate generated at start
//   self-signed-names = ["localhost", "127.0.0.1"]
//   padding-scheme = """stop=8 ..."""    pushed to clients with another scheme
//   fallback = "127.0.0.1:80"            where connections failing authentication go
//   synack = "after-connect"             or "immediate"
//   max-sessions = 4096
//   max-streams-per-session = 256
//   handshake-timeout = "10s"            durations: strings or integer seconds
//   auth-timeout = "10s"
//   connect-timeout = "10s"
//   log-level = "info"
//   alpn = ["h2", "http/1.1"]
//   [[users]]                            at least one
//   name = "alice"
//   password = "secret"
//
// lib/config does not depend on lib/server: the result is a plain struct that
// server::load_server_config (lib/server/load_server_config.hpp) turns into
// server::ServerConfig, and keys left out stay unset (std::nullopt) so the server's own
// defaults apply. Checking the padding scheme needs lib/proto and checking the certificate and
// key files lib/tls, so the caller passes those checks in (ServerLoadOptions). The loader
// itself is pure: no logging, no files besides the one it is asked to read (and those the
// checks read). Passwords never appear in a message. Text over config::kMaxConfigBytes (1 MiB)
// is refused before it is parsed.
//
// Errors carry errc::config and read like the client loader's (toml_values.hpp):
//   top level: key "max-sessions" (line 4): expected an integer >= 1, got 0
//   user "alice": key "password" (line 9): expected a string, got an integer
//   top level: unknown key "fallbak" (line 3); did you mean "fallback"?
//   top level: key "certificate" (line 2): cannot read "/etc/anytls/server.pem": No such file or directory
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "config/duration.hpp"
#include "config/log_level.hpp"

namespace anytls::config {

struct ServerUserEntry {
    std::string name;
    std::string password;  // secret: never in a log line or message
};

enum class ServerSynAck { after_connect, immediate };

struct ServerFileConfig {
    std::string listen;            // empty: not in the file (the CLI's --listen may give it)
    std::string metrics;           // numeric host:port of /metrics; empty: none
    std::string certificate_file;  // with private_key_file, or neither
    std::string private_key_file;
    std::string certificate_pem;  // the PEM text itself, with private_key_pem (a secret)
    std::string private_key_pem;
    bool self_signed = false;
    // Names of the generated certificate (used when self_signed, or forced by the CLI).
    std::vector<std::string> self_signed_names{"localhost", "127.0.0.1", "::1"};
    std::vector<ServerUserEntry> users;  // at least one; a user without a name is "user #N"
    std::optional<std::string> padding_scheme;
    std::string fallback;  // "host:port"; empty: close failed authentications
    std::optional<ServerSynAck> synack;
    std::vector<std::string> alpn;  // ALPN protocols offered; empty: no ALPN
    std::optional<std::uint64_t> max_sessions;
    unsigned threads = 0;  // reactor threads; 0: not in the file (the online CPUs, capped)
    std::optional<std::uint64_t> max_streams_per_session;
    std::optional<Duration> handshake_timeout;
    std::optional<Duration> auth_timeout;
    std::optional<Duration> connect_timeout;
    LogLevel log_level = LogLevel::info;
};

struct ServerLoadOptions {
    // Shown in TOML syntax errors ("server.toml:3:7: ..."); "config" when empty.
    std::string source_name;
    // Checks padding-scheme's text; its error message is shown after the key. Unset: any text.
    std::function<Result<void>(std::string_view scheme)> check_padding_scheme;
    // Check the files of certificate and private-key at load time, so that a missing or
    // malformed file is an error of its key with its line; the CLI passes
    // tls::check_certificate_file and tls::check_private_key_file (lib/tls/pem_files.hpp). Unset:
    // the names are taken as they are.
    std::function<Result<void>(const std::string& path)> check_certificate_file;
    std::function<Result<void>(const std::string& path)> check_private_key_file;
};

// Limits of the values (documented in docs/SERVER.md).
inline constexpr std::uint64_t kMaxServerSessions = 1'000'000;
inline constexpr std::uint64_t kMaxStreamsPerSession = 1'000'000;
inline constexpr std::uint64_t kMaxServerThreads = 256;
inline constexpr Duration kMaxServerTimeout = std::chrono::hours(24);

Result<ServerFileConfig> load_server_config(std::string_view toml_text,
                                            const ServerLoadOptions& options = {});

// Reads the file, then load_server_config() with the path as source name. A read failure is
// a -errno error naming the path and the errno text (config/input_limit.hpp).
Result<ServerFileConfig> load_server_config_file(const std::string& path,
                                                 ServerLoadOptions options = {});

// "host:port" with a numeric IPv4 host or a bracketed IPv6 host and a port 0..65535 — what
// `listen` accepts. Shared with the CLI's --listen so both say the same thing.
Result<void> check_listen_address(std::string_view text);

}  // namespace anytls::config
