// The one way from a server configuration file (docs/SERVER.md) to a ServerConfig, shared by
// `anytls server`, anytls_server_start (the C ABI) and the bindings built on it.
//
// config::load_server_config (lib/config/server_config_loader.hpp) reads and checks the TOML;
// this turns the result into server::ServerConfig: the certificate files and the padding
// scheme are checked as the text is read (so their errors name the key and the line), a
// self-signed certificate is generated when asked for, users, limits, timeouts, SYNACK mode,
// ALPN and fallback are copied. Relative certificate paths are opened as they are, that is
// relative to the process's working directory (docs/SERVER.md, "The configuration file").
//
// Errors: errc::config, "<source>: top level: key ... (line N): ..." (the source name is
// prepended when the message does not already start with it); reading a file that cannot be
// read: -errno; a failing certificate generator: its own code (errc::tls_config).
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"
#include "config/log_level.hpp"
#include "server/server_config.hpp"

namespace anytls::server {

struct ServerConfigOptions {
    // Names the text in errors; "server config" when empty (the file's path for *_file).
    std::string source_name;
    // Replaces the file's `listen` (the CLI's --listen); empty: the file's.
    std::string listen;
    // Used when neither `listen` above nor the file gives one; empty: `listen` is required.
    std::string default_listen;
    // Generate a certificate whatever the file says (the CLI's --self-signed): `certificate`
    // and `private-key` are then neither checked nor used.
    bool self_signed = false;
    // Appended to "missing required key \"listen\"" and to "no certificate" errors, e.g. the
    // CLI's " (or pass --listen ADDR)".
    std::string listen_hint;
    std::string certificate_hint;
};

struct LoadedServerConfig {
    ServerConfig config;
    config::LogLevel log_level = config::LogLevel::info;  // for the caller to apply (or not)
    // Set when a certificate was generated: its PEM (never the key) and SHA-256 fingerprint.
    std::string self_signed_certificate_pem;
    std::string self_signed_fingerprint;
    // The file named certificate files that the forced self_signed option replaced.
    bool certificate_files_ignored = false;
};

Result<LoadedServerConfig> load_server_config(std::string_view toml_text,
                                              const ServerConfigOptions& options = {});

// Reads the file (at most 1 MiB), then load_server_config() with the path as source name.
Result<LoadedServerConfig> load_server_config_file(const std::string& path,
                                                   ServerConfigOptions options = {});

}  // namespace anytls::server
