// The plain-HTTP side of `anytls smoke --url`: an http:// URL split into what a GET needs, the
// request text, and the status line of the answer. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace anytls::cli {

struct HttpUrl {
    std::string host;  // without brackets
    std::uint16_t port = 80;
    std::string path = "/";   // with the query
    std::string host_header;  // "example.com", "example.com:8080", "[::1]:8080"
};

// "http://HOST[:PORT][/PATH]". https:// is refused with a hint (smoke sends plain HTTP through
// the stream). Errors are usage errors naming the part.
Result<HttpUrl> parse_http_url(std::string_view text);

// "GET PATH HTTP/1.1" with Host, User-Agent, Accept and Connection: close.
std::string http_get_request(const HttpUrl& url, std::string_view user_agent);

// The first line of a response ("HTTP/1.1 200 OK") once `received` holds it, without the CRLF.
std::optional<std::string> http_status_line(std::string_view received);

}  // namespace anytls::cli
