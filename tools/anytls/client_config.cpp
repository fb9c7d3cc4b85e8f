// --config / --uri / --proxy for the commands that reach a proxy (see client_config.hpp).
#include "client_config.hpp"

#include <fmt/format.h>

#include "anytls_build_config.h"
#include "base/host_port.hpp"
#include "tls/pem_files.hpp"

namespace anytls::cli {

namespace {

std::string proxy_names(const config::ResolvedConfig& config) {
    std::string names;
    for (const config::ProxyConfig& proxy : config.proxies) {
        if (!names.empty()) names += ", ";
        names += fmt::format("\"{}\"", proxy.name);
    }
    return names;
}

}  // namespace

Result<ClientConfiguration> load_client_configuration(const ParsedOptions& options,
                                                      std::string_view purpose) {
    const std::string* path = options.value("config");
    const std::string* link = options.value("uri");
    if ((path == nullptr || path->empty()) && (link == nullptr || link->empty()))
        return usage_error(fmt::format("--config FILE or --uri LINK is required: {}", purpose));

    config::LoadOptions load_options;
    // A missing or malformed ca-file is an error of its key and line for every command,
    // `plan` included, not only once a connection is made.
    load_options.check_ca_file = tls::check_ca_file;
    ClientConfiguration loaded;
    if (path != nullptr && !path->empty()) {
        auto file = config::load_config_file(*path, load_options);
        if (!file) {
            std::string message = file.error().text();
            // Key errors name the proxy and key but not the file; syntax and open errors do.
            if (message.find(*path) == std::string::npos)
                message = fmt::format("{}: {}", *path, message);
            return config_error(std::move(message));
        }
        loaded.config = std::move(file).value();
        loaded.source = *path;
    } else {
        auto defaults = config::load_config("", load_options);
        if (!defaults) return config_error(defaults.error().text());
        loaded.config = std::move(defaults).value();
    }
    if (link != nullptr && !link->empty()) {
        if (auto added = config::add_share_link_proxy(loaded.config, *link); !added)
            return usage_error(fmt::format("--uri: {}", added.error().message));
        loaded.link_proxy = loaded.config.proxies.back().name;
        loaded.source =
            loaded.source.empty() ? "the share link" : loaded.source + " and the share link";
    }
    return loaded;
}

Result<const config::ProxyConfig*> choose_proxy(const ClientConfiguration& loaded,
                                                const ParsedOptions& options) {
    const config::ResolvedConfig& config = loaded.config;
    if (config.proxies.empty())
        return config_error(fmt::format(
            "{} defines no proxy; add a [[proxies]] entry or pass --uri LINK", loaded.source));
    std::string wanted;
    if (const std::string* name = options.value("proxy"); name != nullptr && !name->empty()) {
        wanted = *name;
    } else if (!loaded.link_proxy.empty()) {
        wanted = loaded.link_proxy;
    } else if (config.proxies.size() == 1) {
        return &config.proxies.front();
    } else {
        return usage_error(
            fmt::format("{} defines {} proxies, so --proxy NAME must choose one of {}",
                        loaded.source, config.proxies.size(), proxy_names(config)));
    }
    for (const config::ProxyConfig& proxy : config.proxies)
        if (proxy.name == wanted) return &proxy;
    return usage_error(fmt::format("{} has no proxy named \"{}\"; its proxies are {}",
                                   loaded.source, wanted, proxy_names(config)));
}

std::string server_address(const config::ProxyConfig& proxy) {
    return format_host_port(proxy.server, proxy.port);
}

}  // namespace anytls::cli
