// From the server's TOML to a ServerConfig (see load_server_config.hpp).
#include "server/load_server_config.hpp"

#include <fmt/format.h>

#include <chrono>
#include <optional>
#include <utility>

#include "base/errors.hpp"
#include "config/input_limit.hpp"
#include "config/server_config_loader.hpp"
#include "proto/padding_scheme.hpp"
#include "tls/pem_files.hpp"
#include "tls/self_signed.hpp"

namespace anytls::server {

namespace {

Result<void> check_padding_scheme(std::string_view text) {
    auto scheme = proto::PaddingScheme::parse(text);
    if (!scheme) return std::move(scheme).error();
    return {};
}

// Key errors name the key but not the source; syntax and size errors already start with it.
Error with_source(Error error, const std::string& source) {
    if (error.code == errc::config && !error.message.starts_with(source))
        error.message = fmt::format("{}: {}", source, error.message);
    return error;
}

Error config_problem(const std::string& source, std::string_view text) {
    return make_error(errc::config, fmt::format("{}: top level: {}", source, text));
}

io::Duration to_io(config::Duration duration) {
    return std::chrono::duration_cast<io::Duration>(duration);
}

ServerConfig to_server_config(config::ServerFileConfig& file) {
    ServerConfig out;
    out.listen = file.listen;
    out.certificate_file = file.certificate_file;
    out.private_key_file = file.private_key_file;
    out.certificate_pem = std::move(file.certificate_pem);
    out.private_key_pem = std::move(file.private_key_pem);
    out.alpn = file.alpn;
    for (auto& user : file.users)
        out.users.push_back(ServerUser{user.name, std::move(user.password)});
    if (file.padding_scheme) out.padding_scheme = *file.padding_scheme;
    out.fallback = file.fallback;
    if (file.synack)
        out.synack = *file.synack == config::ServerSynAck::immediate ? SynAckMode::immediate
                                                                     : SynAckMode::after_connect;
    out.threads = file.threads;
    out.metrics = file.metrics;
    if (file.max_sessions) out.max_sessions = static_cast<std::size_t>(*file.max_sessions);
    if (file.max_streams_per_session)
        out.max_streams_per_session = static_cast<std::size_t>(*file.max_streams_per_session);
    if (file.handshake_timeout) out.handshake_timeout = to_io(*file.handshake_timeout);
    if (file.auth_timeout) out.auth_timeout = to_io(*file.auth_timeout);
    if (file.connect_timeout) out.connect_timeout = to_io(*file.connect_timeout);
    return out;
}

}  // namespace

Result<LoadedServerConfig> load_server_config(std::string_view toml_text,
                                              const ServerConfigOptions& options) {
    const std::string source =
        options.source_name.empty() ? std::string("server config") : options.source_name;
    config::ServerLoadOptions load_options;
    load_options.source_name = source;
    load_options.check_padding_scheme = check_padding_scheme;
    if (!options.self_signed) {
        load_options.check_certificate_file = tls::check_certificate_file;
        load_options.check_private_key_file = tls::check_private_key_file;
    }
    auto file = config::load_server_config(toml_text, load_options);
    if (!file) return with_source(std::move(file).error(), source);

    if (!options.listen.empty()) file->listen = options.listen;
    if (file->listen.empty()) file->listen = options.default_listen;
    if (file->listen.empty())
        return config_problem(
            source, fmt::format("missing required key \"listen\"{}", options.listen_hint));
    const bool self_signed = file->self_signed || options.self_signed;
    if (!self_signed && file->certificate_file.empty() && file->certificate_pem.empty())
        return config_problem(source, fmt::format("no certificate: set keys \"certificate\" and "
                                                  "\"private-key\", or \"self-signed\" = true{}",
                                                  options.certificate_hint));

    LoadedServerConfig loaded;
    loaded.log_level = file->log_level;
    if (self_signed) {
        loaded.certificate_files_ignored =
            !file->certificate_file.empty() || !file->certificate_pem.empty();
        auto generated = tls::generate_self_signed(file->self_signed_names);
        if (!generated) {
            if (generated.code() == errc::invalid_argument)
                return config_problem(
                    source, fmt::format("key \"self-signed-names\": {}", generated.error().text()));
            return std::move(generated).error();
        }
        file->certificate_file.clear();
        file->private_key_file.clear();
        file->certificate_pem = generated->certificate_pem;
        file->private_key_pem = std::move(generated->private_key_pem);
        loaded.self_signed_certificate_pem = std::move(generated->certificate_pem);
        loaded.self_signed_fingerprint = std::move(generated->sha256_fingerprint);
    }
    loaded.config = to_server_config(*file);
    return loaded;
}

Result<LoadedServerConfig> load_server_config_file(const std::string& path,
                                                   ServerConfigOptions options) {
    auto text = config::read_config_file(path);
    if (!text) return std::move(text).error();
    if (options.source_name.empty()) options.source_name = path;
    return load_server_config(*text, options);
}

}  // namespace anytls::server
