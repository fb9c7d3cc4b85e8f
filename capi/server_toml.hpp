// The embedded server's minimal TOML (anytls_server_start, docs/C-API.md): what a test or a
// demo needs to run an AnyTLS server in-process — listen, a certificate (files or PEM text),
// users, padding scheme, SYNACK mode, ALPN, fallback. Nothing else, so it never has to follow
// the full server configuration file of the CLI.
//
// Errors carry errc::config and name the key, e.g.
//   server config: key "users[1].password" (line 9): expected a string, got an integer
#pragma once

#include <string_view>

#include "base/result.hpp"
#include "server/server_config.hpp"

namespace anytls::capi {

Result<server::ServerConfig> parse_server_toml(std::string_view toml_text);

}  // namespace anytls::capi
