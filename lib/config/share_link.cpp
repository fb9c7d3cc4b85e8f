// The share-link parser and formatter (see share_link.hpp for the format and its decisions).
#include "config/share_link.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

#include "base/ascii.hpp"
#include "base/errors.hpp"
#include "base/host_port.hpp"
#include "config/input_limit.hpp"

namespace anytls::config {

namespace {

constexpr std::string_view kWhitespace = " \t\r\n";
// Longest piece of the link a message quotes; the rest is cut with "...".
constexpr std::size_t kQuoteLimit = 40;

Error link_error(std::string message) {
    return make_error(errc::config, "share link: " + std::move(message));
}

// A piece of the link for a message. The link is checked for control characters before any
// piece is quoted, and the password is never passed here.
std::string quote(std::string_view text) {
    if (text.size() <= kQuoteLimit) return fmt::format("\"{}\"", text);
    return fmt::format("\"{}...\"", text.substr(0, kQuoteLimit));
}

bool is_control(unsigned char c) { return c < 0x20 || c == 0x7f; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
int hex_value(char c) {
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c - 'A' + 10;
}

// RFC 3986 section 2.3: the characters that never need encoding.
bool is_unreserved(char c) {
    return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

// Percent-decodes `text`; `part` names it in the error ("the password"). Controls decoded from
// an escape are refused (they would end up in messages and TLS names) unless allowed; NUL
// always is.
Result<std::string> decode(std::string_view text, std::string_view part, bool allow_controls) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size() || !is_hex(text[i + 1]) || !is_hex(text[i + 2]))
            return link_error(fmt::format(
                "{} has a bad percent-escape: '%' must be followed by two hex digits", part));
        const auto byte =
            static_cast<unsigned char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
        if (byte == 0)
            return link_error(fmt::format("{} contains %00; a NUL byte is not allowed", part));
        if (!allow_controls && is_control(byte))
            return link_error(fmt::format("{} contains an encoded control character (%{}{})", part,
                                          text[i + 1], text[i + 2]));
        out += static_cast<char>(byte);
        i += 2;
    }
    return out;
}

std::string encode(std::string_view text) {
    std::string out;
    for (char c : text) {
        if (is_unreserved(c)) {
            out += c;
        } else {
            out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
        }
    }
    return out;
}

Result<void> check_ipv6(std::string_view inside) {
    if (inside.empty()) return link_error("the IPv6 host between '[' and ']' is empty");
    bool colon = false;
    for (char c : inside) {
        if (c == ':') colon = true;
        if (!is_hex(c) && c != ':' && c != '.')
            return link_error(fmt::format("the IPv6 host {} may only hold hex digits, ':' and '.'",
                                          quote(inside)));
    }
    if (!colon)
        return link_error(
            fmt::format("the bracketed host {} is not an IPv6 address", quote(inside)));
    return {};
}

Result<void> check_host_name(std::string_view host) {
    for (char c : host) {
        if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_')
            return link_error(fmt::format(
                "the host {} contains '{}'; expected a name, an IPv4 address or an IPv6 "
                "address in brackets",
                quote(host), c));
    }
    return {};
}

// "HOST[:PORT]" or "[IPV6][:PORT]", by the one host:port parser (base/host_port.hpp); the
// host is then checked as a name or an IPv6 literal.
Result<void> parse_host_port(std::string_view text, ShareLink& link) {
    if (text.empty()) return link_error("the host is missing after '@'");
    if (text.ends_with(':'))
        return link_error(
            "the port is empty after ':'; leave out the ':' for the default port 443");
    auto parts = anytls::parse_host_port(
        text, HostPortRules{.port_required = false, .default_port = link.port});
    if (!parts) return link_error(parts.error().text());
    if (auto checked = parts->bracketed ? check_ipv6(parts->host) : check_host_name(parts->host);
        !checked)
        return checked;
    link.host = std::move(parts->host);
    link.port = parts->port;
    return {};
}

// `insecure` and its alias `allowInsecure`: 0 or 1; when both are given they must agree.
Result<void> read_insecure(std::string_view key, std::string_view value,
                           std::optional<bool>& insecure) {
    if (value != "0" && value != "1")
        return link_error(
            fmt::format("query parameter \"{}\" must be 0 or 1, got {}", key, quote(value)));
    const bool flag = value == "1";
    if (insecure && *insecure != flag)
        return link_error("query parameters \"insecure\" and \"allowInsecure\" disagree");
    insecure = flag;
    return {};
}

// `alpn=h2,http/1.1`: the names in order, split before they are decoded (so "%2C" stays in a
// name); an empty name is an error, an empty value none.
Result<void> read_alpn(std::string_view raw_value, ShareLink& link) {
    if (raw_value.empty()) return {};
    for (;;) {
        const std::size_t comma = raw_value.find(',');
        const std::string_view piece = raw_value.substr(0, comma);
        auto name = decode(piece, "query parameter \"alpn\"", false);
        if (!name) return std::move(name).error();
        if (name->empty()) return link_error("query parameter \"alpn\" has an empty protocol name");
        link.alpn.push_back(std::move(*name));
        if (comma == std::string_view::npos) return {};
        raw_value = raw_value.substr(comma + 1);
    }
}

Result<void> parse_query(std::string_view query, ShareLink& link) {
    constexpr std::array<std::string_view, 6> kKeys{"sni",  "insecure", "allowInsecure",
                                                    "alpn", "fp",       "hpkp"};
    std::array<bool, kKeys.size()> seen{};
    std::optional<bool> insecure;
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        const std::size_t equals = item.find('=');
        auto key = decode(item.substr(0, equals), "a query parameter's name", false);
        if (!key) return std::move(key).error();
        if (key->empty())
            return link_error(fmt::format("the query item {} has no name before '='", quote(item)));
        const std::string_view raw_value =
            equals == std::string_view::npos ? std::string_view{} : item.substr(equals + 1);
        const auto* known = std::find(kKeys.begin(), kKeys.end(), *key);
        if (known == kKeys.end())
            return link_error(fmt::format(
                "unknown query parameter {}; the known ones are sni, insecure, allowInsecure, "
                "alpn, fp and hpkp",
                quote(*key)));
        bool& seen_key = seen[static_cast<std::size_t>(known - kKeys.begin())];
        if (seen_key) return link_error(fmt::format("query parameter \"{}\" is given twice", *key));
        seen_key = true;
        if (*key == "alpn") {
            // Split before decoding, each name decoded on its own (read_alpn).
            if (auto read = read_alpn(raw_value, link); !read) return read;
            continue;
        }
        auto value = decode(raw_value, fmt::format("query parameter \"{}\"", *key), false);
        if (!value) return std::move(value).error();
        Result<void> read;
        if (*key == "sni") {
            link.sni = std::move(*value);  // empty: as if not given
        } else if (*key == "insecure" || *key == "allowInsecure") {
            read = read_insecure(*key, *value, insecure);
        } else if (*key == "fp") {
            link.client_fingerprint = std::move(*value);
        } else {
            link.fingerprint = std::move(*value);
        }
        if (!read) return read;
    }
    link.insecure = insecure.value_or(false);
    return {};
}

}  // namespace

Result<ShareLink> parse_share_link(std::string_view text) {
    if (auto size = check_config_size(text.size(), "share link"); !size)
        return std::move(size).error();
    const std::size_t first = text.find_first_not_of(kWhitespace);
    if (first == std::string_view::npos)
        return link_error("the link is empty; expected anytls://PASSWORD@HOST[:PORT]");
    text = text.substr(first, text.find_last_not_of(kWhitespace) - first + 1);
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == ' ' || is_control(static_cast<unsigned char>(text[i])))
            return link_error(fmt::format(
                "contains a space or control character at position {}; percent-encode it "
                "(%20 for a space)",
                i + 1));
    }

    const std::size_t separator = text.find("://");
    if (separator == std::string_view::npos)
        return link_error(
            "expected it to start with \"anytls://\", as in anytls://PASSWORD@HOST[:PORT]");
    const std::string_view scheme = text.substr(0, separator);
    if (!equals_ignoring_case(scheme, "anytls"))
        return link_error(fmt::format("the scheme must be \"anytls\", got {}", quote(scheme)));
    std::string_view rest = text.substr(separator + 3);

    ShareLink link;
    if (const std::size_t hash = rest.find('#'); hash != std::string_view::npos) {
        auto name = decode(rest.substr(hash + 1), "the name (the part after '#')", false);
        if (!name) return std::move(name).error();
        link.name = std::move(*name);
        rest = rest.substr(0, hash);
    }
    std::string_view query;
    if (const std::size_t question = rest.find('?'); question != std::string_view::npos) {
        query = rest.substr(question + 1);
        rest = rest.substr(0, question);
    }
    std::string_view path;
    if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
        path = rest.substr(slash);
        rest = rest.substr(0, slash);
    }

    // The authority: the password is everything up to its last '@'.
    const std::size_t at = rest.rfind('@');
    if (at == std::string_view::npos)
        return link_error(
            "the password is missing: write anytls://PASSWORD@HOST[:PORT] (percent-encode special "
            "characters in it)");
    if (at == 0) return link_error("the password before '@' is empty");
    auto password = decode(rest.substr(0, at), "the password", true);
    if (!password) return std::move(password).error();
    link.password = std::move(*password);
    if (auto parsed = parse_host_port(rest.substr(at + 1), link); !parsed)
        return std::move(parsed).error();

    if (!path.empty() && path != "/")
        return link_error(
            fmt::format("unexpected path {}; only \"/\" may come before the '?'", quote(path)));
    if (auto parsed = parse_query(query, link); !parsed) return std::move(parsed).error();
    return link;
}

std::string format_share_link(const ShareLink& link) {
    std::string out(kShareLinkScheme);
    out += encode(link.password);
    out += '@';
    if (link.host.find(':') != std::string::npos) {
        out += fmt::format("[{}]", link.host);
    } else {
        out += link.host;
    }
    if (link.port != kShareLinkDefaultPort) out += fmt::format(":{}", link.port);
    std::string query;
    if (!link.sni.empty()) query += "sni=" + encode(link.sni);
    auto add = [&query](std::string_view item) {
        if (!query.empty()) query += '&';
        query += item;
    };
    if (link.insecure) add("insecure=1");
    if (!link.alpn.empty()) {
        std::string names;
        for (const std::string& name : link.alpn)
            names += (names.empty() ? "" : ",") + encode(name);
        add("alpn=" + names);
    }
    if (!link.client_fingerprint.empty()) add("fp=" + encode(link.client_fingerprint));
    if (!link.fingerprint.empty()) add("hpkp=" + encode(link.fingerprint));
    out += '/';
    if (!query.empty()) out += "?" + query;
    if (!link.name.empty()) out += "#" + encode(link.name);
    return out;
}

}  // namespace anytls::config
