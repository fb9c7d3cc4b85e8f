// http:// URLs and GET requests for `anytls smoke --url` (see http_url.hpp).
#include "http_url.hpp"

#include <fmt/format.h>

#include "base/host_port.hpp"
#include "command.hpp"

namespace anytls::cli {

Result<HttpUrl> parse_http_url(std::string_view text) {
    constexpr std::string_view scheme = "http://";
    if (text.starts_with("https://"))
        return usage_error(
            "--url: https:// is not supported (smoke sends plain HTTP through the stream); use an "
            "http:// URL, or --target HOST:443 to test the connection only");
    if (!text.starts_with(scheme))
        return usage_error(
            fmt::format("--url expects http://HOST[:PORT][/PATH], got \"{}\"", text));
    std::string_view rest = text.substr(scheme.size());
    HttpUrl url;
    const std::size_t slash = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, slash);
    if (slash != std::string_view::npos) {
        std::string_view path = rest.substr(slash);
        path = path.substr(0, path.find('#'));
        url.path = path.starts_with('/') ? std::string(path) : "/" + std::string(path);
    }
    if (authority.find('@') != std::string_view::npos)
        return usage_error("--url: user names and passwords in the URL are not supported");
    auto parts =
        parse_host_port(authority, HostPortRules{.port_required = false, .default_port = url.port});
    if (!parts) return usage_error(fmt::format("--url: {}", parts.error().text()));
    url.host = std::move(parts->host);
    url.port = parts->port;
    const std::string host =
        url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    url.host_header = url.port == 80 ? host : fmt::format("{}:{}", host, url.port);
    return url;
}

std::string http_get_request(const HttpUrl& url, std::string_view user_agent) {
    return fmt::format(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path, url.host_header, user_agent);
}

std::optional<std::string> http_status_line(std::string_view received) {
    const std::size_t end = received.find("\r\n");
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(received.substr(0, end));
}

}  // namespace anytls::cli
