// The configuration file: TOML text in, a complete resolved configuration (or one error) out.
//
// The TOML mirrors mihomo's YAML one to one (docs/DESIGN.md, "Configuration"):
//   log-level = "debug"
//   [experimental.anytls-session-management]   global pool keys (pool_keys.hpp)
//   [[proxies]]                                 one outbound: name, type = "anytls", server, ...
//   [proxies.session-override]                  the same pool keys, for this proxy only
// The loader is pure: it does not log. Things worth telling the user that are not errors
// (an ignored key) come back in ResolvedConfig::warnings, for the caller to log.
// Nothing is half-applied: the result is either an error or a configuration in which every
// proxy resolved and validated.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "config/log_level.hpp"
#include "config/pool_keys.hpp"
#include "config/pool_settings.hpp"

namespace anytls::config {

// One outbound AnyTLS proxy.
struct ProxyConfig {
    std::string name;
    std::string server;
    std::uint16_t port = 0;
    std::string password;  // secret: never put it in a log line or message
    std::string sni;       // empty: the TLS layer uses the server name (none for an IP literal)
    bool skip_cert_verify = false;
    std::vector<std::string> alpn;  // empty: no ALPN extension
    std::string ca_file;            // empty: the system trust store
    // mihomo's `fingerprint`: the SHA-256 of the server's leaf certificate as 64 lower-case hex
    // digits; when set it replaces CA verification (docs/CONFIG.md, "Certificate pinning").
    std::string fingerprint;
    PoolSettings pool;         // after the priority merge
    PoolSources pool_sources;  // where each pool value came from (for `anytls plan`)
};

struct ResolvedConfig {
    LogLevel log_level = LogLevel::info;
    PoolSettings global_pool;         // the global section over the defaults: what a proxy with no
                                      // per-proxy keys gets, and the base for proxies added later
    PoolSources global_pool_sources;  // where each of global_pool's values came from
    std::vector<ProxyConfig> proxies;
    std::vector<std::string> warnings;
};

struct LoadOptions {
    // Shown in TOML syntax errors ("config.toml:3:7: ..."); "config" when empty.
    std::string source_name;
    // Checks the file a proxy's ca-file names (when skip-cert-verify is off), so that a missing,
    // unreadable or malformed file is an error of that key with its line, at load time rather
    // than at the first connection. The caller passes tls::check_ca_file (lib/tls/pem_files.hpp;
    // lib/config does not link wolfSSL). Unset: the name is taken as it is, and the loader
    // touches no file besides the one it reads.
    std::function<Result<void>(const std::string& path)> check_ca_file;
};

// Parses and resolves a configuration. Errors carry errc::config and a message that names the
// section or proxy, the key, what was expected and the line, for example
//   proxy "ha-service": key "session-override.ensure-idle-session" (line 12): expected a count >= 0, got -3
//   proxy "a": key "ca-file" (line 7): cannot read "/etc/ca.pem": No such file or directory
// Text over config::kMaxConfigBytes (1 MiB) is refused before it is parsed.
Result<ResolvedConfig> load_config(std::string_view toml_text, const LoadOptions& options = {});

// Adds the proxy of a share link (anytls://..., share_link.hpp) to `config`: what `--uri LINK`
// does on the command line. It gets config.global_pool as its pool settings (what a proxy with
// no keys of its own gets) and the link's #name as its name, else `fallback_name`. errc::config
// when the link is malformed (the message says which part) or the name is already taken.
Result<void> add_share_link_proxy(ResolvedConfig& config, std::string_view link,
                                  std::string_view fallback_name = "link");

// Reads the file, then load_config() with the path as source name. A read failure is a
// -errno error naming the path and the errno text (config/input_limit.hpp).
Result<ResolvedConfig> load_config_file(const std::string& path, LoadOptions options = {});

}  // namespace anytls::config
