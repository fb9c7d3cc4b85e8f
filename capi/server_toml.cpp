// Parsing the embedded server's minimal TOML (see server_toml.hpp).
#include "server_toml.hpp"

#include <toml++/toml.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <array>
#include <string>

#include "base/errors.hpp"
#include "base/host_port.hpp"
#include "config/input_limit.hpp"
#include "io/tcp.hpp"
#include "proto/padding_scheme.hpp"
#include "tls/pem_files.hpp"

namespace anytls::capi {

namespace {

constexpr std::string_view kContext = "server config";

constexpr std::array<std::string_view, 10> kTopKeys{
    "listen",  "certificate", "private-key", "certificate-pem", "private-key-pem",
    "padding-scheme", "synack", "alpn", "fallback", "users",
};

std::string line_suffix(const toml::node& node) {
    const auto line = node.source().begin.line;
    return line == 0 ? std::string{} : fmt::format(" (line {})", line);
}

std::string_view type_name(const toml::node& node) {
    switch (node.type()) {
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a number";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        default: return "a date or time";
    }
}

Error key_error(std::string_view key, const toml::node& node, std::string_view problem) {
    return make_error(errc::config, fmt::format("{}: key \"{}\"{}: {}", kContext, key, line_suffix(node), problem));
}

Result<std::string> read_string(std::string_view key, const toml::node& node) {
    if (const auto* s = node.as_string()) return s->get();
    return key_error(key, node, fmt::format("expected a string, got {}", type_name(node)));
}

}  // namespace

Result<server::ServerConfig> parse_server_toml(std::string_view toml_text) {
    if (auto size = config::check_config_size(toml_text.size(), kContext); !size) return std::move(size).error();
    toml::table document;
    try {
        document = toml::parse(toml_text, std::string("server config"));
    } catch (const toml::parse_error& error) {
        const auto& where = error.source().begin;
        return make_error(errc::config,
                          fmt::format("server config:{}:{}: {}", where.line, where.column, error.description()));
    }

    server::ServerConfig config;
    config.listen = "127.0.0.1:0";
    for (const auto& [key_name, node] : document) {
        const std::string key(key_name.str());
        bool known = false;
        for (auto k : kTopKeys) known = known || k == key;
        if (!known) {
            return make_error(errc::config,
                              fmt::format("{}: unknown key \"{}\"{} (accepted: {})", kContext, key, line_suffix(node),
                                          fmt::join(kTopKeys, ", ")));
        }
        if (key == "users") {
            const auto* users = node.as_array();
            if (!users) return key_error(key, node, fmt::format("expected [[users]] tables, got {}", type_name(node)));
            std::size_t index = 0;
            for (const auto& entry : *users) {
                const std::string where = fmt::format("users[{}]", index++);
                const auto* table = entry.as_table();
                if (!table) return key_error(where, entry, fmt::format("expected a table, got {}", type_name(entry)));
                server::ServerUser user;
                bool has_password = false;
                for (const auto& [user_key_name, value] : *table) {
                    const std::string user_key(user_key_name.str());
                    const std::string dotted = where + "." + user_key;
                    if (user_key != "name" && user_key != "password") {
                        return make_error(errc::config, fmt::format("{}: unknown key \"{}\"{} (accepted: name, password)",
                                                                    kContext, dotted, line_suffix(value)));
                    }
                    auto text = read_string(dotted, value);
                    if (!text) return std::move(text).error();
                    if (user_key == "name") {
                        user.name = std::move(text).value();
                    } else {
                        user.password = std::move(text).value();
                        has_password = true;
                    }
                }
                if (!has_password || user.password.empty()) {
                    return key_error(where, entry, "a user needs a non-empty password");
                }
                if (user.name.empty()) user.name = where;
                config.users.push_back(std::move(user));
            }
            continue;
        }
        if (key == "alpn") {
            const auto* list = node.as_array();
            if (!list) return key_error(key, node, fmt::format("expected an array of strings, got {}", type_name(node)));
            for (const auto& item : *list) {
                auto text = read_string(key, item);
                if (!text) return std::move(text).error();
                config.alpn.push_back(std::move(text).value());
            }
            continue;
        }
        auto text = read_string(key, node);
        if (!text) return std::move(text).error();
        std::string value = std::move(text).value();
        if (key == "listen") {
            auto address = io::SocketAddress::parse_host_port(value);
            if (!address) return key_error(key, node, "expected a numeric host:port: " + address.error().text());
            config.listen = std::move(value);
        } else if (key == "certificate" || key == "private-key") {
            // Checked here, so that a missing or malformed file names its key and line.
            auto checked = key == "certificate" ? tls::check_certificate_file(value) : tls::check_private_key_file(value);
            if (!checked) return key_error(key, node, checked.error().text());
            (key == "certificate" ? config.certificate_file : config.private_key_file) = std::move(value);
        } else if (key == "certificate-pem") {
            config.certificate_pem = std::move(value);
        } else if (key == "private-key-pem") {
            config.private_key_pem = std::move(value);
        } else if (key == "padding-scheme") {
            auto scheme = proto::PaddingScheme::parse(value);
            if (!scheme) return key_error(key, node, "invalid padding scheme: " + scheme.error().text());
            config.padding_scheme = std::move(value);
        } else if (key == "synack") {
            if (value == "after-connect") config.synack = server::SynAckMode::after_connect;
            else if (value == "immediate") config.synack = server::SynAckMode::immediate;
            else return key_error(key, node, "expected \"after-connect\" or \"immediate\", got \"" + value + "\"");
        } else if (key == "fallback") {
            if (auto parts = parse_host_port(value); !parts) return key_error(key, node, parts.error().text());
            config.fallback = std::move(value);
        }
    }

    const bool files = !config.certificate_file.empty() || !config.private_key_file.empty();
    const bool pem = !config.certificate_pem.empty() || !config.private_key_pem.empty();
    if (files && pem) {
        return make_error(errc::config, fmt::format("{}: give either certificate + private-key or certificate-pem + "
                                                    "private-key-pem, not both",
                                                    kContext));
    }
    if (files && (config.certificate_file.empty() || config.private_key_file.empty())) {
        return make_error(errc::config, fmt::format("{}: key \"{}\" is missing (certificate and private-key go together)",
                                                    kContext, config.certificate_file.empty() ? "certificate" : "private-key"));
    }
    if (pem && (config.certificate_pem.empty() || config.private_key_pem.empty())) {
        return make_error(errc::config,
                          fmt::format("{}: key \"{}\" is missing (certificate-pem and private-key-pem go together)",
                                      kContext, config.certificate_pem.empty() ? "certificate-pem" : "private-key-pem"));
    }
    if (!files && !pem) {
        return make_error(errc::config,
                          fmt::format("{}: key \"certificate\" is missing (certificate + private-key, or "
                                      "certificate-pem + private-key-pem)",
                                      kContext));
    }
    if (config.users.empty()) {
        return make_error(errc::config, fmt::format("{}: key \"users\" is missing: add at least one [[users]] with a "
                                                    "password",
                                                    kContext));
    }
    return config;
}

}  // namespace anytls::capi
