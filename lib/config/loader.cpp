// The TOML loader: walks the document section by section, reads every key (refusing unknown
// ones with a suggestion), then resolves each proxy's pool settings with the priority merge
// (merge.hpp). See config.hpp for the shape of the file and of the result.
#include <toml++/toml.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <array>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "config/config.hpp"
#include "config/input_limit.hpp"
#include "config/merge.hpp"
#include "config/share_link.hpp"
#include "config/toml_values.hpp"

namespace anytls::config {

namespace {

using detail::KeyPlace;

constexpr std::string_view kGlobalSection = "[experimental.anytls-session-management]";

constexpr std::array<std::string_view, 3> kTopLevelKeys{"log-level", "experimental", "proxies"};
constexpr std::array<std::string_view, 1> kExperimentalKeys{"anytls-session-management"};
// The proxy keys of mihomo's AnyTLS outbound that this library understands, legacy pool keys
// apart (they come from the pool key table).
constexpr std::array<std::string_view, 15> kProxyKeys{
    "name",
    "type",
    "server",
    "port",
    "password",
    "sni",
    "skip-cert-verify",
    "alpn",
    "ca-file",
    "client-fingerprint",
    "client-metadata",
    "ech-opts",
    "fingerprint",
    "session-override",
    "uri",
};
// The keys a share link (`uri`) stands for; a proxy with a uri may not set them too.
constexpr std::array<std::string_view, 5> kShareLinkKeys{"server", "port", "password", "sni",
                                                         "skip-cert-verify"};

// mihomo's `fingerprint` (component/ca/fingerprint.go): hex, colons allowed, 32 bytes; a
// browser name there is a mix-up with client-fingerprint, said as mihomo says it.
Result<std::string> normalize_certificate_fingerprint(std::string_view text) {
    constexpr std::array<std::string_view, 10> kBrowserNames{
        "chrome", "firefox", "safari", "ios",    "android",
        "edge",   "360",     "qq",     "random", "randomized"};
    if (std::find(kBrowserNames.begin(), kBrowserNames.end(), text) != kBrowserNames.end())
        return make_error(errc::config,
                          "fingerprint pins the server certificate (its SHA-256 in hex); a browser "
                          "fingerprint is client-fingerprint");
    std::string hex;
    for (char c : text) {
        if (c == ':' || c == ' ') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c)))
            return make_error(errc::config,
                              fmt::format("expected the SHA-256 of the server certificate in hex "
                                          "(64 digits, colons allowed), got \"{}\"",
                                          text));
        hex.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    if (hex.size() != 64)
        return make_error(errc::config,
                          fmt::format("expected the SHA-256 of the server certificate: 64 hex "
                                      "digits (colons allowed), got {}",
                                      hex.size()));
    return hex;
}

// The warning of an ignored client fingerprint, from the key or from a share link's `fp`.
std::string ignored_client_fingerprint(std::string_view context, std::string_view what,
                                       std::string_view fingerprint, std::string_view line) {
    return fmt::format("{}: {} \"{}\"{} is ignored: uTLS fingerprints are not supported", context,
                       what, fingerprint, line);
}

// A share link's node into `proxy`, for a `uri` key and for --uri alike. `line` is the uri's
// line suffix, for the messages.
Result<void> apply_share_link(const ShareLink& link, ProxyConfig& proxy,
                              std::vector<std::string>& warnings, std::string_view context,
                              std::string_view line) {
    proxy.server = link.host;
    proxy.port = link.port;
    proxy.password = link.password;
    proxy.sni = link.sni;
    proxy.skip_cert_verify = link.insecure;
    if (!link.alpn.empty()) proxy.alpn = link.alpn;
    if (!link.fingerprint.empty()) {
        auto pin = normalize_certificate_fingerprint(link.fingerprint);
        if (!pin)
            return make_error(errc::config, fmt::format("{}: share link{}: hpkp: {}", context, line,
                                                        pin.error().message));
        proxy.fingerprint = std::move(*pin);
    }
    if (!link.client_fingerprint.empty())
        warnings.push_back(ignored_client_fingerprint(context, "the share link's fp",
                                                      link.client_fingerprint, line));
    return {};
}

std::vector<std::string_view> pool_key_names() {
    std::vector<std::string_view> names;
    for (const PoolKey& key : pool_keys()) names.push_back(key.name);
    return names;
}

std::vector<std::string_view> proxy_key_names() {
    std::vector<std::string_view> names(kProxyKeys.begin(), kProxyKeys.end());
    for (const PoolKey& key : pool_keys())
        if (key.legacy_per_proxy) names.push_back(key.name);
    return names;
}

// mihomo's `ech-opts`: read so that its files load, but ECH cannot be had (wolfSSL 5.5.4 has
// none; docs/FINGERPRINT.md, "ECH"). `enable = true` is refused rather than ignored: a proxy
// meant to hide its SNI must not connect sending it in clear.
Result<void> check_ech_options(const KeyPlace& place, const toml::node& node) {
    static constexpr std::array<std::string_view, 3> kEchKeys{"enable", "config",
                                                              "query-server-name"};
    const auto* table = node.as_table();
    if (table == nullptr)
        return detail::key_error(
            place, node, fmt::format("expected a table, got {}", detail::toml_type_name(node)));
    for (const auto& entry : *table) {
        const std::string name(entry.first.str());
        const KeyPlace inner{place.context, fmt::format("{}.{}", place.key, name)};
        if (std::find(kEchKeys.begin(), kEchKeys.end(), name) == kEchKeys.end())
            return detail::unknown_key_error(place.context, name, entry.second, kEchKeys, {},
                                             "ech-opts.");
        if (name == "enable") {
            auto enable = detail::read_bool(inner, entry.second);
            if (!enable) return std::move(enable).error();
            if (*enable)
                return detail::key_error(
                    inner, entry.second,
                    "ECH is not available: the wolfSSL this library is built on has none, and "
                    "none released interoperates with Go's (docs/FINGERPRINT.md, \"ECH\"); set "
                    "enable = false or remove ech-opts");
        } else {
            auto text = detail::read_string(inner, entry.second);
            if (!text) return std::move(text).error();
        }
    }
    return {};
}

// The global section or a session-override: pool keys only.
Result<PoolLayer> read_pool_section(const toml::table& table, std::string_view context,
                                    std::string_view prefix) {
    PoolLayer layer;
    const auto names = pool_key_names();
    for (const auto& [key, node] : table) {
        const std::string name(key.str());
        const auto id = find_pool_key(name);
        if (!id) return detail::unknown_key_error(context, name, node, names, {}, prefix);
        auto value = detail::read_pool_value(
            KeyPlace{std::string(context), fmt::format("{}{}", prefix, name)}, node, *id);
        if (!value) return std::move(value).error();
        layer[*id] = std::move(*value);
    }
    return layer;
}

Result<LogLevel> read_log_level(const toml::node& node) {
    const KeyPlace place{"top level", "log-level"};
    auto text = detail::read_string(place, node);
    if (!text) return std::move(text).error();
    if (auto level = parse_log_level(*text)) return *level;
    return detail::key_error(
        place, node,
        fmt::format("expected one of silent, error, warning, info, debug, trace, got \"{}\"",
                    *text));
}

Result<PoolLayer> read_experimental(const toml::node& node) {
    const auto* table = node.as_table();
    if (table == nullptr)
        return detail::key_error(
            KeyPlace{"top level", "experimental"}, node,
            fmt::format("expected a table, got {}", detail::toml_type_name(node)));
    PoolLayer global;
    for (const auto& [key, child] : *table) {
        if (key.str() != kExperimentalKeys[0])
            return detail::unknown_key_error("[experimental]", key.str(), child, kExperimentalKeys);
        const auto* section = child.as_table();
        if (section == nullptr)
            return detail::key_error(
                KeyPlace{"[experimental]", std::string(kExperimentalKeys[0])}, child,
                fmt::format("expected a table, got {}", detail::toml_type_name(child)));
        auto layer = read_pool_section(*section, kGlobalSection, "");
        if (!layer) return std::move(layer).error();
        global = std::move(*layer);
    }
    return global;
}

// One [[proxies]] entry. `number` is its 1-based position, used until the name is known.
Result<ProxyConfig> read_proxy(const toml::table& table, std::size_t number,
                               const PoolLayer& global, const PoolSettings& defaults,
                               const LoadOptions& options, std::vector<std::string>& warnings) {
    ProxyConfig proxy;
    std::string context = fmt::format("proxy #{}", number);

    // The name first, so every later message can say which proxy it is about.
    if (const toml::node* name_node = table.get("name")) {
        auto name = detail::read_string(KeyPlace{context, "name"}, *name_node);
        if (!name) return std::move(name).error();
        if (name->empty())
            return detail::key_error(KeyPlace{context, "name"}, *name_node, "must not be empty");
        proxy.name = std::move(*name);
        context = fmt::format("proxy \"{}\"", proxy.name);
    }

    // A share link (`uri`): its #name names the proxy when the entry has no "name".
    std::optional<ShareLink> link;
    if (const toml::node* uri_node = table.get("uri")) {
        auto text = detail::read_string(KeyPlace{context, "uri"}, *uri_node);
        if (!text) return std::move(text).error();
        auto parsed = parse_share_link(*text);
        if (!parsed)
            return detail::key_error(KeyPlace{context, "uri"}, *uri_node, parsed.error().message);
        for (std::string_view key : kShareLinkKeys) {
            if (table.get(key) != nullptr)
                return detail::key_error(
                    KeyPlace{context, "uri"}, *uri_node,
                    fmt::format("a share link sets server, port, password, sni and "
                                "skip-cert-verify; remove either \"{}\" or \"uri\"",
                                key));
        }
        // What a link sets only when it has the parameter.
        const std::array<std::pair<bool, std::string_view>, 3> optional_keys{{
            {!parsed->alpn.empty(), "alpn"},
            {!parsed->client_fingerprint.empty(), "client-fingerprint"},
            {!parsed->fingerprint.empty(), "fingerprint"},
        }};
        for (const auto& [in_link, key] : optional_keys) {
            if (in_link && table.get(key) != nullptr)
                return detail::key_error(
                    KeyPlace{context, "uri"}, *uri_node,
                    fmt::format("the share link sets {} too; remove either \"{}\" or its "
                                "parameter in \"uri\"",
                                key, key));
        }
        link = std::move(*parsed);
        if (!link->name.empty() && proxy.name.empty()) {
            proxy.name = link->name;
            context = fmt::format("proxy \"{}\"", proxy.name);
        }
    }

    PoolLayer session_override;
    PoolLayer legacy;
    const auto known = proxy_key_names();
    bool has_type = false;
    bool has_port = false;

    // Named members, not a structured binding: clang before 16 rejects lambdas that capture
    // a structured binding (string_field below), and the fuzz targets build with clang 14.
    for (const auto& entry : table) {
        const auto& key = entry.first;
        const auto& node = entry.second;
        const std::string name(key.str());
        const KeyPlace place{context, name};
        auto string_field = [&](std::string& out, bool required) -> Result<void> {
            auto text = detail::read_string(place, node);
            if (!text) return std::move(text).error();
            if (required && text->empty())
                return detail::key_error(place, node, "must not be empty");
            out = std::move(*text);
            return {};
        };

        Result<void> done;
        if (name == "name" || name == "uri") {
            continue;  // read above
        } else if (name == "type") {
            std::string type;
            done = string_field(type, false);
            if (done && type != "anytls")
                return detail::key_error(
                    place, node,
                    fmt::format("expected \"anytls\", got \"{}\" (this library only speaks AnyTLS)",
                                type));
            has_type = true;
        } else if (name == "server") {
            done = string_field(proxy.server, true);
        } else if (name == "port") {
            auto port = detail::read_integer(place, node);
            if (!port) return std::move(port).error();
            if (*port < 1 || *port > 65535)
                return detail::key_error(
                    place, node,
                    fmt::format("expected a port number from 1 to 65535, got {}", *port));
            proxy.port = static_cast<std::uint16_t>(*port);
            has_port = true;
        } else if (name == "password") {
            // The password never appears in a message, not even when it is the wrong type.
            done = string_field(proxy.password, true);
        } else if (name == "sni") {
            done = string_field(proxy.sni, false);
        } else if (name == "skip-cert-verify") {
            auto flag = detail::read_bool(place, node);
            if (!flag) return std::move(flag).error();
            proxy.skip_cert_verify = *flag;
        } else if (name == "alpn") {
            auto list = detail::read_string_array(place, node);
            if (!list) return std::move(list).error();
            proxy.alpn = std::move(*list);
        } else if (name == "ca-file") {
            done = string_field(proxy.ca_file, false);
        } else if (name == "client-fingerprint") {
            // Accepted so mihomo configurations load unchanged; the TLS client hello is
            // wolfSSL's own (no uTLS), so the value cannot be honoured. The loader does not
            // log (config.hpp): the caller logs the warning.
            std::string fingerprint;
            done = string_field(fingerprint, false);
            if (done)
                warnings.push_back(ignored_client_fingerprint(
                    context, "client-fingerprint", fingerprint, detail::line_suffix(node)));
        } else if (name == "fingerprint") {
            std::string text;
            done = string_field(text, true);
            if (done) {
                auto pin = normalize_certificate_fingerprint(text);
                if (!pin) return detail::key_error(place, node, pin.error().message);
                proxy.fingerprint = std::move(*pin);
            }
        } else if (name == "ech-opts") {
            done = check_ech_options(place, node);
        } else if (name == "client-metadata") {
            // mihomo's name for the Settings frame's client= value: the client-name pool key
            // of this proxy, checked like it.
            auto value = detail::read_pool_value(place, node, PoolKeyId::client_name);
            if (!value) return std::move(value).error();
            legacy[PoolKeyId::client_name] = std::move(*value);
        } else if (name == "session-override") {
            const auto* section = node.as_table();
            if (section == nullptr)
                return detail::key_error(
                    place, node,
                    fmt::format("expected a table, got {}", detail::toml_type_name(node)));
            auto layer = read_pool_section(*section, context, "session-override.");
            if (!layer) return std::move(layer).error();
            session_override = std::move(*layer);
        } else if (auto id = find_pool_key(name)) {
            if (!pool_key(*id).legacy_per_proxy)
                return detail::unknown_key_error(
                    context, name, node, known,
                    fmt::format(
                        "\"{}\" is a pool key: set it in [proxies.session-override] for this proxy "
                        "or in {} for all",
                        name, kGlobalSection));
            auto value = detail::read_pool_value(place, node, *id);
            if (!value) return std::move(value).error();
            legacy[*id] = std::move(*value);
        } else {
            return detail::unknown_key_error(context, name, node, known);
        }
        if (!done) return std::move(done).error();
    }

    auto missing = [&](std::string_view key) {
        return make_error(errc::config, fmt::format("{}{}: missing required key \"{}\"", context,
                                                    detail::line_suffix(table), key));
    };
    if (link) {
        // The link's scheme says the type; `type` may be left out.
        if (auto applied = apply_share_link(*link, proxy, warnings, context,
                                            detail::line_suffix(*table.get("uri")));
            !applied)
            return std::move(applied).error();
        has_port = true;
        has_type = true;
    }
    if (proxy.name.empty()) return missing("name");
    if (!has_type) return missing("type");
    if (proxy.server.empty()) return missing("server");
    if (!has_port) return missing("port");
    if (proxy.password.empty()) return missing("password");
    // After the loop: a CA file is only read when certificates are verified.
    if (!proxy.ca_file.empty() && !proxy.skip_cert_verify && options.check_ca_file) {
        if (auto checked = options.check_ca_file(proxy.ca_file); !checked)
            return detail::key_error(KeyPlace{context, "ca-file"}, *table.get("ca-file"),
                                     checked.error().text());
    }

    auto pool = resolve_pool(session_override, legacy, global, defaults);
    if (!pool)
        return make_error(errc::config, fmt::format("{}: {}", context, pool.error().message));
    proxy.pool = std::move(pool->settings);
    proxy.pool_sources = pool->sources;
    return proxy;
}

Result<std::vector<ProxyConfig>> read_proxies(const toml::node& node, const PoolLayer& global,
                                              const PoolSettings& defaults,
                                              const LoadOptions& options,
                                              std::vector<std::string>& warnings) {
    auto tables = detail::read_array_of_tables(KeyPlace{"top level", "proxies"}, node);
    if (!tables) return std::move(tables).error();
    std::vector<ProxyConfig> proxies;
    // Outbounds are addressed by name (C API, rules), so names must be unique.
    detail::UniqueNames names("proxy");
    for (std::size_t i = 0; i < tables->size(); ++i) {
        const toml::table& table = *(*tables)[i];
        auto proxy = read_proxy(table, i + 1, global, defaults, options, warnings);
        if (!proxy) return std::move(proxy).error();
        if (auto unique = names.add(proxy->name, table); !unique) return std::move(unique).error();
        proxies.push_back(std::move(*proxy));
    }
    return proxies;
}

}  // namespace

Result<ResolvedConfig> load_config(std::string_view toml_text, const LoadOptions& options) {
    const std::string source =
        options.source_name.empty() ? std::string("config") : options.source_name;
    auto parsed = detail::parse_document(toml_text, source);
    if (!parsed) return std::move(parsed).error();
    const toml::table document = std::move(parsed).value();

    PoolSettings defaults;

    ResolvedConfig config;
    PoolLayer global;
    // Sections are read in a fixed order (not the document's) so the global layer exists
    // before any proxy is resolved against it.
    for (const auto& [key, node] : document) {
        if (std::find(kTopLevelKeys.begin(), kTopLevelKeys.end(), key.str()) == kTopLevelKeys.end())
            return detail::unknown_key_error("top level", key.str(), node, kTopLevelKeys);
    }
    if (const toml::node* node = document.get("log-level")) {
        auto level = read_log_level(*node);
        if (!level) return std::move(level).error();
        config.log_level = *level;
    }
    if (const toml::node* node = document.get("experimental")) {
        auto layer = read_experimental(*node);
        if (!layer) return std::move(layer).error();
        global = std::move(*layer);
    }
    // The global section must be valid on its own (it is the base for every proxy, including
    // ones added later through the C API), even if every proxy overrides the offending key.
    auto global_pool = resolve_pool({}, {}, global, defaults);
    if (!global_pool)
        return make_error(errc::config,
                          fmt::format("{}: {}", kGlobalSection, global_pool.error().message));
    config.global_pool = std::move(global_pool->settings);
    config.global_pool_sources = global_pool->sources;

    if (const toml::node* node = document.get("proxies")) {
        auto proxies = read_proxies(*node, global, defaults, options, config.warnings);
        if (!proxies) return std::move(proxies).error();
        config.proxies = std::move(*proxies);
    }
    return config;
}

Result<void> add_share_link_proxy(ResolvedConfig& config, std::string_view link,
                                  std::string_view fallback_name) {
    auto parsed = parse_share_link(link);
    if (!parsed) return std::move(parsed).error();
    ProxyConfig proxy;
    proxy.name = parsed->name.empty() ? std::string(fallback_name) : parsed->name;
    if (auto applied = apply_share_link(*parsed, proxy, config.warnings,
                                        fmt::format("proxy \"{}\"", proxy.name), "");
        !applied)
        return std::move(applied).error();
    proxy.pool = config.global_pool;
    proxy.pool_sources = config.global_pool_sources;
    for (const ProxyConfig& existing : config.proxies) {
        if (existing.name == proxy.name)
            return make_error(
                errc::config,
                fmt::format("share link: the name \"{}\" is already used by a proxy of the "
                            "configuration; give the link another #name",
                            proxy.name));
    }
    config.proxies.push_back(std::move(proxy));
    return {};
}

Result<ResolvedConfig> load_config_file(const std::string& path, LoadOptions options) {
    auto text = read_config_file(path);
    if (!text) return std::move(text).error();
    if (options.source_name.empty()) options.source_name = path;
    return load_config(*text, options);
}

}  // namespace anytls::config
