// HTTP proxy requests of the local entry point (`anytls socks`), parsed without I/O.
//
// Two forms reach a proxy (RFC 9110 section 9.3.6, RFC 9112 section 3.2):
//   CONNECT host:port HTTP/1.1         authority-form: a tunnel to host:port
//   GET http://host[:port]/path HTTP/1.1   absolute-form: forwarded to the origin in
//                                      origin-form ("GET /path HTTP/1.1")
// parse_http_proxy_request() takes the bytes received so far and answers need_more until the
// blank line that ends the head, then the request, or an error (errc::protocol) whose message
// is one sentence for a 400 reply. The head is limited (max_http_head_size) so a client cannot
// make the proxy buffer without end. Lines may end in CRLF or a bare LF (RFC 9112 section 2.2).
//
// origin_request_head() builds the head sent to the target: origin-form request line, the
// client's headers minus the hop-by-hop and proxy ones (Connection, Proxy-Connection,
// Keep-Alive, Proxy-Authorization, Upgrade, TE, Trailer), a Host header if there was none,
// and "Connection: close": one request per connection keeps the relay a plain byte pipe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.hpp"
#include "inbound/socks5_parser.hpp"

namespace anytls::inbound {

inline constexpr std::size_t max_http_head_size = 32 * 1024;

struct HttpProxyRequest {
    std::string method;                                        // "CONNECT", "GET", ... as sent
    std::string target;                                        // the request target as sent
    std::string version;                                       // "HTTP/1.1" or "HTTP/1.0"
    std::vector<std::pair<std::string, std::string>> headers;  // in order, values trimmed

    bool tunnel = false;  // CONNECT
    std::string host;     // without brackets for IPv6
    std::uint16_t port = 0;
    std::string origin_form;  // absolute-form only: "/path?query" ("/" when empty)

    // The first header with this name (case-insensitive), or nullptr.
    const std::string* header(std::string_view name) const;
};

struct HttpProxyRequestParse {
    ParseStatus status = ParseStatus::need_more;
    HttpProxyRequest request;
    std::size_t consumed = 0;  // the head's length, blank line included; body bytes follow
};

Result<HttpProxyRequestParse> parse_http_proxy_request(
    std::span<const std::uint8_t> input, std::size_t max_head_size = max_http_head_size);

// The head forwarded to the origin for an absolute-form request (see above).
std::string origin_request_head(const HttpProxyRequest& request);

// true when a "Proxy-Authorization: Basic base64(user:password)" header carries exactly these
// credentials.
bool basic_proxy_authorization_matches(const HttpProxyRequest& request,
                                       const Socks5Credentials& expected);

// A complete response with a one-line text/plain body: "HTTP/1.1 502 Bad Gateway" and
// `message` plus a newline. Connection: close. extra_headers: whole lines ending in "\r\n".
std::string http_error_response(int status, std::string_view message,
                                std::string_view extra_headers = {});
std::string_view http_reason_phrase(int status);

}  // namespace anytls::inbound
