// HTTP proxy requests of the local entry point (see http_proxy_parser.hpp).
#include "inbound/http_proxy_parser.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "base/ascii.hpp"
#include "base/errors.hpp"
#include "base/host_port.hpp"

namespace anytls::inbound {

namespace {

Error bad_request(std::string message) { return make_error(errc::protocol, std::move(message)); }

bool istarts_with(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() &&
           equals_ignoring_case(text.substr(0, prefix.size()), prefix);
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// RFC 9110 section 5.6.2: token characters.
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (std::isalnum(u)) continue;
        if (std::strchr("!#$%&'*+-.^_`|~", c) == nullptr || c == '\0') return false;
    }
    return true;
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const unsigned char u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7F;
    });
}

// "host:port" / "[v6]:port" (port required when default_port is 0), by the one host:port
// parser (base/host_port.hpp).
Result<std::pair<std::string, std::uint16_t>> split_authority(std::string_view authority,
                                                              std::uint16_t default_port) {
    if (authority.empty()) return bad_request("the request names no host");
    // RFC 3986 allows an empty port ("host:"): the default one.
    if (default_port != 0 && authority.ends_with(':')) authority.remove_suffix(1);
    HostPortRules rules;
    rules.port_required = default_port == 0;
    rules.default_port = default_port;
    auto parts = parse_host_port(authority, rules);
    if (!parts) return bad_request(parts.error().text());
    const std::string_view host = parts->host;
    if (host.size() > 255) return bad_request("the host name is longer than 255 bytes");
    if (host.find_first_of("/?#@ \t") != std::string_view::npos || has_control(host))
        return bad_request("the host contains characters a host name cannot have");
    return std::pair<std::string, std::uint16_t>{parts->host, parts->port};
}

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    std::size_t i = 0;
    for (; i < text.size() && text[i] != '='; ++i) {
        const int v = base64_value(text[i]);
        if (v < 0) return std::nullopt;
        buffer = (buffer << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xFF));
        }
    }
    for (; i < text.size(); ++i)
        if (text[i] != '=') return std::nullopt;
    return out;
}

}  // namespace

const std::string* HttpProxyRequest::header(std::string_view name) const {
    for (const auto& [key, value] : headers)
        if (equals_ignoring_case(key, name)) return &value;
    return nullptr;
}

Result<HttpProxyRequestParse> parse_http_proxy_request(std::span<const std::uint8_t> input,
                                                       std::size_t max_head_size) {
    HttpProxyRequestParse out;
    const std::string_view text(reinterpret_cast<const char*>(input.data()), input.size());
    // Find the end of the head: an empty line.
    std::size_t head_end = std::string_view::npos;  // index just past the blank line
    std::size_t line_start = 0;
    std::vector<std::string_view> lines;
    while (true) {
        const auto newline = text.find('\n', line_start);
        if (newline == std::string_view::npos) break;
        std::string_view line = text.substr(line_start, newline - line_start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        line_start = newline + 1;
        if (line.empty()) {
            if (lines.empty())
                continue;  // RFC 9112 section 2.2: ignore empty lines before the request
            head_end = line_start;
            break;
        }
        lines.push_back(line);
        if (line_start > max_head_size) break;
    }
    if (head_end == std::string_view::npos) {
        if (input.size() > max_head_size || line_start > max_head_size)
            return bad_request(
                fmt::format("the request head is larger than {} bytes", max_head_size));
        return out;
    }
    if (head_end > max_head_size)
        return bad_request(fmt::format("the request head is larger than {} bytes", max_head_size));

    // Request line: method SP target SP version.
    const std::string_view request_line = lines.front();
    if (has_control(request_line))
        return bad_request("the request line contains control characters");
    const auto first_space = request_line.find(' ');
    const auto last_space = request_line.rfind(' ');
    if (first_space == std::string_view::npos || first_space == last_space)
        return bad_request("the request line is not \"METHOD TARGET HTTP/1.x\"");
    HttpProxyRequest& request = out.request;
    request.method = std::string(request_line.substr(0, first_space));
    request.target =
        std::string(trim(request_line.substr(first_space + 1, last_space - first_space - 1)));
    request.version = std::string(request_line.substr(last_space + 1));
    if (!is_token(request.method)) return bad_request("the request method is not a token");
    if (request.target.empty() || request.target.find(' ') != std::string::npos)
        return bad_request("the request line is not \"METHOD TARGET HTTP/1.x\"");
    if (request.version != "HTTP/1.1" && request.version != "HTTP/1.0")
        return bad_request(
            fmt::format("the HTTP version \"{}\" is not supported (HTTP/1.0 or HTTP/1.1)",
                        request.version.substr(0, 16)));

    for (std::size_t i = 1; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        if (line.front() == ' ' || line.front() == '\t')
            return bad_request("obsolete header line folding is not accepted");
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) return bad_request("a header line has no colon");
        const std::string_view name = line.substr(0, colon);
        if (!is_token(name)) return bad_request("a header name is not a token");
        const std::string_view value = trim(line.substr(colon + 1));
        if (has_control(value)) return bad_request("a header value contains control characters");
        request.headers.emplace_back(std::string(name), std::string(value));
    }

    if (request.method == "CONNECT") {
        request.tunnel = true;
        auto authority = split_authority(request.target, 0);
        if (!authority) return std::move(authority).error();
        request.host = std::move(authority->first);
        request.port = authority->second;
    } else {
        std::string_view target = request.target;
        if (!istarts_with(target, "http://")) {
            if (istarts_with(target, "https://"))
                return bad_request(
                    "https:// URLs go through CONNECT, not as a plain proxy request");
            return bad_request(
                "a proxy request needs an absolute http:// URL or CONNECT host:port");
        }
        target.remove_prefix(7);
        const auto path_start = target.find_first_of("/?#");
        std::string_view authority = target.substr(0, path_start);
        if (authority.find('@') != std::string_view::npos)
            return bad_request("user information in the URL is not accepted");
        auto split = split_authority(authority, 80);
        if (!split) return std::move(split).error();
        request.host = std::move(split->first);
        request.port = split->second;
        std::string_view path =
            path_start == std::string_view::npos ? std::string_view{} : target.substr(path_start);
        if (const auto hash = path.find('#'); hash != std::string_view::npos)
            path = path.substr(0, hash);
        request.origin_form =
            path.empty() || path.front() != '/' ? "/" + std::string(path) : std::string(path);
    }
    out.consumed = head_end;
    out.status = ParseStatus::done;
    return out;
}

std::string origin_request_head(const HttpProxyRequest& request) {
    static constexpr std::string_view hop_by_hop[] = {
        "connection", "proxy-connection", "keep-alive", "proxy-authorization", "upgrade",
        "te",         "trailer"};
    std::string out =
        fmt::format("{} {} {}\r\n", request.method, request.origin_form, request.version);
    bool has_host = false;
    for (const auto& [name, value] : request.headers) {
        bool drop = false;
        for (std::string_view h : hop_by_hop) drop = drop || equals_ignoring_case(name, h);
        if (drop) continue;
        has_host = has_host || equals_ignoring_case(name, "host");
        out += fmt::format("{}: {}\r\n", name, value);
    }
    if (!has_host) {
        const bool v6 = request.host.find(':') != std::string::npos;
        const std::string host = v6 ? "[" + request.host + "]" : request.host;
        out += request.port == 80 ? fmt::format("Host: {}\r\n", host)
                                  : fmt::format("Host: {}:{}\r\n", host, request.port);
    }
    out += "Connection: close\r\n\r\n";
    return out;
}

bool basic_proxy_authorization_matches(const HttpProxyRequest& request,
                                       const Socks5Credentials& expected) {
    const std::string* header = request.header("Proxy-Authorization");
    if (header == nullptr) return false;
    std::string_view value = trim(*header);
    if (!istarts_with(value, "basic ")) return false;
    auto decoded = base64_decode(trim(value.substr(6)));
    if (!decoded) return false;
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return false;
    Socks5Credentials given{decoded->substr(0, colon), decoded->substr(colon + 1)};
    return credentials_match(given, expected);
}

std::string_view http_reason_phrase(int status) {
    switch (status) {
        case 200:
            return "OK";
        case 400:
            return "Bad Request";
        case 403:
            return "Forbidden";
        case 404:
            return "Not Found";
        case 405:
            return "Method Not Allowed";
        case 407:
            return "Proxy Authentication Required";
        case 408:
            return "Request Timeout";
        case 431:
            return "Request Header Fields Too Large";
        case 500:
            return "Internal Server Error";
        case 502:
            return "Bad Gateway";
        case 503:
            return "Service Unavailable";
        case 504:
            return "Gateway Timeout";
        default:
            return "Error";
    }
}

std::string http_error_response(int status, std::string_view message,
                                std::string_view extra_headers) {
    const std::string body = std::string(message) + "\n";
    return fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n{}"
        "Connection: close\r\n\r\n{}",
        status, http_reason_phrase(status), body.size(), extra_headers, body);
}

}  // namespace anytls::inbound
