// The client configuration of a command that reaches a proxy: `--config FILE`, `--uri LINK`
// (an anytls:// share link, lib/config/share_link.hpp), or both, and `--proxy NAME`.
//
//   --config FILE          the proxies of the file
//   --uri LINK             one proxy from the link (named by its #name, else "link"), with
//                          the default pool settings
//   --config FILE --uri L  the file's proxies plus the link's, which gets the file's global
//                          pool section; --proxy defaults to the link's proxy
// A malformed link is a usage error (exit 2) whose message says which part is wrong; a bad file
// is a configuration error (exit 3). The option specs below are shared so every command words
// them the same.
#pragma once

#include <string>
#include <string_view>

#include "command.hpp"
#include "config/config.hpp"

namespace anytls::cli {

inline constexpr OptionSpec kClientConfigOption{
    "config", "FILE", "the client's TOML configuration file (docs/CONFIG.md)"};
inline constexpr OptionSpec kUriOption{
    "uri", "LINK",
    "a share link anytls://PASSWORD@HOST[:PORT]/?sni=NAME&insecure=0|1#NAME "
    "as the proxy (with --config: added to the file's proxies)"};
inline constexpr OptionSpec kProxyOption{
    "proxy", "NAME",
    "the proxy to use; needed when there are several (default: the link's "
    "proxy, or the only one)"};

struct ClientConfiguration {
    config::ResolvedConfig config;
    std::string source;  // "c.toml", "the share link" or "c.toml and the share link", for messages
    std::string link_proxy;  // the name of the link's proxy; empty without --uri
};

// Reads --config and --uri (at least one is required; `purpose` ends the message that says so).
Result<ClientConfiguration> load_client_configuration(const ParsedOptions& options,
                                                      std::string_view purpose);

// --proxy NAME, else the link's proxy, else the only proxy.
Result<const config::ProxyConfig*> choose_proxy(const ClientConfiguration& loaded,
                                                const ParsedOptions& options);

// "127.0.0.1:8443", "[::1]:8443"
std::string server_address(const config::ProxyConfig& proxy);

}  // namespace anytls::cli
