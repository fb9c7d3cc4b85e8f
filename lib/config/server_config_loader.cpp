// The server configuration loader (see server_config_loader.hpp): every top-level key is read
// and checked on its own, then the combinations (certificate with private-key, users) are
// checked on the whole.
#include "config/server_config_loader.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <map>

#include "base/errors.hpp"
#include "base/host_port.hpp"
#include "config/input_limit.hpp"
#include "config/toml_values.hpp"

namespace anytls::config {

namespace {

using detail::KeyPlace;

constexpr std::string_view kTopLevel = "top level";

constexpr std::array<std::string_view, 20> kServerKeys{
    "listen",
    "certificate",
    "private-key",
    "self-signed",
    "certificate-pem",
    "private-key-pem",
    "self-signed-names",
    "users",
    "padding-scheme",
    "fallback",
    "synack",
    "max-sessions",
    "max-streams-per-session",
    "handshake-timeout",
    "auth-timeout",
    "connect-timeout",
    "alpn",
    "log-level",
    "threads",
    "metrics",
};
constexpr std::array<std::string_view, 2> kUserKeys{"name", "password"};

Result<void> check_fallback_address(std::string_view text) {
    auto parts = parse_host_port(text);
    if (!parts)
        return make_error(
            errc::config,
            fmt::format("expected \"host:port\" (\"[v6]:port\" for IPv6), got \"{}\": {}", text,
                        parts.error().text()));
    return {};
}

// A duration key: "10s" or integer seconds, > 0 and at most kMaxServerTimeout.
Result<Duration> read_timeout(const KeyPlace& place, const toml::node& node) {
    Duration value{0};
    if (const auto* integer = node.as_integer()) {
        auto duration = duration_from_seconds(integer->get());
        if (!duration) return detail::key_error(place, node, duration.error().message);
        value = *duration;
    } else if (const auto* text = node.as_string()) {
        auto duration = parse_duration(text->get());
        if (!duration) return detail::key_error(place, node, duration.error().message);
        value = *duration;
    } else {
        return detail::key_error(
            place, node,
            fmt::format("expected a duration string like \"10s\" or an integer number of "
                        "seconds, got {}",
                        detail::toml_type_name(node)));
    }
    if (value <= Duration::zero() || value > kMaxServerTimeout)
        return detail::key_error(
            place, node,
            fmt::format("expected a duration above 0 and at most {}, got {}",
                        format_duration(kMaxServerTimeout), format_duration(value)));
    return value;
}

Result<std::string> read_nonempty_string(const KeyPlace& place, const toml::node& node) {
    auto text = detail::read_string(place, node);
    if (!text) return std::move(text).error();
    if (text->empty()) return detail::key_error(place, node, "must not be empty");
    return text;
}

// One [[users]] entry; `number` is its 1-based position, used until the name is known.
Result<ServerUserEntry> read_user(const toml::table& table, std::size_t number) {
    ServerUserEntry user;
    std::string context = fmt::format("user #{}", number);
    if (const toml::node* name = table.get("name")) {
        auto text = read_nonempty_string(KeyPlace{context, "name"}, *name);
        if (!text) return std::move(text).error();
        user.name = std::move(*text);
        context = fmt::format("user \"{}\"", user.name);
    }
    bool has_password = false;
    for (const auto& entry : table) {
        const std::string key(entry.first.str());
        const toml::node& node = entry.second;
        if (key == "name") continue;
        if (key != "password") return detail::unknown_key_error(context, key, node, kUserKeys);
        // The password never appears in a message, not even when it is the wrong type.
        auto text = read_nonempty_string(KeyPlace{context, key}, node);
        if (!text) return std::move(text).error();
        user.password = std::move(*text);
        has_password = true;
    }
    auto missing = [&](std::string_view key) {
        return make_error(errc::config, fmt::format("{}{}: missing required key \"{}\"", context,
                                                    detail::line_suffix(table), key));
    };
    // Optional: embedded servers in tests often need no names (docs/SERVER.md).
    if (user.name.empty()) user.name = fmt::format("user #{}", number);
    if (!has_password) return missing("password");
    return user;
}

Result<std::vector<ServerUserEntry>> read_users(const toml::node& node) {
    auto tables = detail::read_array_of_tables(KeyPlace{std::string(kTopLevel), "users"}, node);
    if (!tables) return std::move(tables).error();
    std::vector<ServerUserEntry> users;
    detail::UniqueNames names("user");
    for (std::size_t i = 0; i < tables->size(); ++i) {
        const toml::table* table = (*tables)[i];
        auto user = read_user(*table, i + 1);
        if (!user) return std::move(user).error();
        if (auto unique = names.add(user->name, *table); !unique) return std::move(unique).error();
        // Two users with one password could not be told apart (the preamble carries only its
        // hash). Say so without showing it.
        for (const ServerUserEntry& other : users)
            if (other.password == user->password)
                return make_error(
                    errc::config,
                    fmt::format("user \"{}\"{}: has the same password as user \"{}\"; the server "
                                "identifies users by password, so each needs its own",
                                user->name, detail::line_suffix(*table), other.name));
        users.push_back(std::move(*user));
    }
    return users;
}

Result<std::vector<std::string>> read_names(const KeyPlace& place, const toml::node& node) {
    auto names = detail::read_string_array(place, node);
    if (!names) return std::move(names).error();
    if (names->empty())
        return detail::key_error(place, node, "expected at least one host name or IP address");
    for (const std::string& name : *names)
        if (name.empty() || name.find_first_of(" \t\r\n/") != std::string::npos)
            return detail::key_error(
                place, node, fmt::format("\"{}\" is neither a host name nor an IP address", name));
    return names;
}

}  // namespace

Result<void> check_listen_address(std::string_view text) {
    const auto bad = [&](std::string_view why) {
        return make_error(
            errc::config,
            fmt::format("expected a numeric address with a port like \"127.0.0.1:8443\" or "
                        "\"[::1]:8443\", got \"{}\"{}{}",
                        text, why.empty() ? "" : ": ", why));
    };
    HostPortRules rules;
    rules.allow_port_zero = true;  // 0 picks a free port
    auto parts = parse_host_port(text, rules);
    if (!parts) return bad(parts.error().text());
    unsigned char address[16];
    const int family = parts->bracketed ? AF_INET6 : AF_INET;
    if (inet_pton(family, parts->host.c_str(), address) != 1)
        return bad("the host is not a numeric address");
    return {};
}

Result<ServerFileConfig> load_server_config(std::string_view toml_text,
                                            const ServerLoadOptions& options) {
    const std::string source =
        options.source_name.empty() ? std::string("config") : options.source_name;
    auto parsed = detail::parse_document(toml_text, source);
    if (!parsed) return std::move(parsed).error();
    const toml::table document = std::move(parsed).value();

    ServerFileConfig config;
    bool has_users = false;
    const toml::node* certificate_node =
        nullptr;  // the certificate or private-key key, whichever came last
    const toml::node* certificate_file_node = nullptr;
    const toml::node* private_key_file_node = nullptr;
    const toml::node* self_signed_node = nullptr;
    const toml::node* pem_node = nullptr;  // certificate-pem or private-key-pem, the last one
    for (const auto& entry : document) {
        const std::string key(entry.first.str());
        const toml::node& node = entry.second;
        const KeyPlace place{std::string(kTopLevel), key};
        if (key == "listen" || key == "metrics") {
            auto text = read_nonempty_string(place, node);
            if (!text) return std::move(text).error();
            if (auto checked = check_listen_address(*text); !checked)
                return detail::key_error(place, node, checked.error().message);
            (key == "listen" ? config.listen : config.metrics) = std::move(*text);
        } else if (key == "certificate" || key == "private-key") {
            auto text = read_nonempty_string(place, node);
            if (!text) return std::move(text).error();
            (key == "certificate" ? config.certificate_file : config.private_key_file) =
                std::move(*text);
            (key == "certificate" ? certificate_file_node : private_key_file_node) = &node;
            certificate_node = &node;
        } else if (key == "certificate-pem" || key == "private-key-pem") {
            auto text = read_nonempty_string(place, node);
            if (!text) return std::move(text).error();
            auto& pem = key == "certificate-pem" ? config.certificate_pem : config.private_key_pem;
            pem = std::move(*text);
            pem_node = &node;
        } else if (key == "self-signed") {
            auto flag = detail::read_bool(place, node);
            if (!flag) return std::move(flag).error();
            config.self_signed = *flag;
            self_signed_node = &node;
        } else if (key == "self-signed-names") {
            auto names = read_names(place, node);
            if (!names) return std::move(names).error();
            config.self_signed_names = std::move(*names);
        } else if (key == "users") {
            auto users = read_users(node);
            if (!users) return std::move(users).error();
            config.users = std::move(*users);
            has_users = true;
        } else if (key == "padding-scheme") {
            auto text = read_nonempty_string(place, node);
            if (!text) return std::move(text).error();
            if (options.check_padding_scheme) {
                if (auto checked = options.check_padding_scheme(*text); !checked)
                    return detail::key_error(
                        place, node,
                        fmt::format("not a valid padding scheme: {}", checked.error().text()));
            }
            config.padding_scheme = std::move(*text);
        } else if (key == "fallback") {
            auto text = read_nonempty_string(place, node);
            if (!text) return std::move(text).error();
            if (auto checked = check_fallback_address(*text); !checked)
                return detail::key_error(place, node, checked.error().message);
            config.fallback = std::move(*text);
        } else if (key == "synack") {
            auto text = detail::read_string(place, node);
            if (!text) return std::move(text).error();
            if (*text == "after-connect")
                config.synack = ServerSynAck::after_connect;
            else if (*text == "immediate")
                config.synack = ServerSynAck::immediate;
            else
                return detail::key_error(
                    place, node,
                    fmt::format("expected \"after-connect\" or \"immediate\", got \"{}\"", *text));
        } else if (key == "max-sessions") {
            auto value = detail::read_count(place, node, kMaxServerSessions);
            if (!value) return std::move(value).error();
            config.max_sessions = *value;
        } else if (key == "threads") {
            auto value = detail::read_count(place, node, kMaxServerThreads);
            if (!value) return std::move(value).error();
            config.threads = static_cast<unsigned>(*value);
        } else if (key == "max-streams-per-session") {
            auto value = detail::read_count(place, node, kMaxStreamsPerSession);
            if (!value) return std::move(value).error();
            config.max_streams_per_session = *value;
        } else if (key == "handshake-timeout" || key == "auth-timeout" ||
                   key == "connect-timeout") {
            auto value = read_timeout(place, node);
            if (!value) return std::move(value).error();
            (key == "handshake-timeout" ? config.handshake_timeout
             : key == "auth-timeout"    ? config.auth_timeout
                                        : config.connect_timeout) = *value;
        } else if (key == "alpn") {
            auto list = detail::read_string_array(place, node);
            if (!list) return std::move(list).error();
            config.alpn = std::move(*list);
        } else if (key == "log-level") {
            auto text = detail::read_string(place, node);
            if (!text) return std::move(text).error();
            auto level = parse_log_level(*text);
            if (!level)
                return detail::key_error(
                    place, node,
                    fmt::format(
                        "expected one of silent, error, warning, info, debug, trace, got \"{}\"",
                        *text));
            config.log_level = *level;
        } else {
            return detail::unknown_key_error(kTopLevel, key, node, kServerKeys);
        }
    }

    // `node` is the key the problem is found at, or nullptr for the file as a whole.
    auto problem = [&](const toml::node* node, std::string_view text) {
        return make_error(errc::config,
                          fmt::format("{}{}: {}", kTopLevel,
                                      node ? detail::line_suffix(*node) : std::string{}, text));
    };
    if (config.certificate_file.empty() != config.private_key_file.empty())
        return problem(
            certificate_node,
            config.certificate_file.empty()
                ? "key \"private-key\" needs key \"certificate\" (the PEM chain it belongs to)"
                : "key \"certificate\" needs key \"private-key\" (its PEM private key)");
    if (config.self_signed && !config.certificate_file.empty())
        return problem(self_signed_node,
                       "key \"self-signed\" = true and keys \"certificate\"/\"private-key\" "
                       "exclude each other; "
                       "keep one");
    if (config.certificate_pem.empty() != config.private_key_pem.empty())
        return problem(pem_node, config.certificate_pem.empty()
                                     ? "key \"private-key-pem\" needs key \"certificate-pem\""
                                     : "key \"certificate-pem\" needs key \"private-key-pem\"");
    if (!config.certificate_pem.empty() && (config.self_signed || !config.certificate_file.empty()))
        return problem(pem_node,
                       "keys \"certificate-pem\"/\"private-key-pem\" exclude "
                       "\"certificate\"/\"private-key\" and \"self-signed\" = true; "
                       "keep one");
    if (!has_users || config.users.empty())
        return problem(nullptr,
                       "missing required key \"users\": add at least one [[users]] entry with name "
                       "and password");
    // Last, so the cheap mistakes above are reported without reading any file.
    const auto check_file = [&](const auto& check, const std::string& path, const toml::node* node,
                                std::string_view key) -> Result<void> {
        if (!check || path.empty() || node == nullptr) return {};
        if (auto checked = check(path); !checked)
            return detail::key_error(KeyPlace{std::string(kTopLevel), std::string(key)}, *node,
                                     checked.error().text());
        return {};
    };
    if (auto checked = check_file(options.check_certificate_file, config.certificate_file,
                                  certificate_file_node, "certificate");
        !checked)
        return std::move(checked).error();
    if (auto checked = check_file(options.check_private_key_file, config.private_key_file,
                                  private_key_file_node, "private-key");
        !checked)
        return std::move(checked).error();
    return config;
}

Result<ServerFileConfig> load_server_config_file(const std::string& path,
                                                 ServerLoadOptions options) {
    auto text = read_config_file(path);
    if (!text) return std::move(text).error();
    if (options.source_name.empty()) options.source_name = path;
    return load_server_config(*text, options);
}

}  // namespace anytls::config
