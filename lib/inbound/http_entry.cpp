// The HTTP proxy entry: CONNECT tunnels and plain-HTTP requests (absolute-form), with Basic
// proxy authentication when credentials are set. The parsing is pure (http_proxy_parser.hpp);
// this is its I/O.
#include <fmt/format.h>

#include "base/host_port.hpp"
#include "client/open_failure.hpp"
#include "inbound/http_proxy_parser.hpp"
#include "inbound/inbound_connection.hpp"

namespace anytls::inbound {

namespace detail {

namespace {

io::Task<void> http_reply_error(std::shared_ptr<Connection> c, int status, std::string message,
                                std::string_view extra_headers = {}) {
    fail(*c, fmt::format("HTTP {}: {}", status, message));
    (void)co_await send_to_client(*c,
                                  as_bytes(http_error_response(status, message, extra_headers)));
    c->client.shutdown(SHUT_WR);
    report(*c);
}

}  // namespace

io::Task<void> serve_http(std::shared_ptr<Connection> c, Bytes buffer, io::Deadline deadline) {
    c->record.protocol = "http";
    HttpProxyRequestParse parsed;
    for (;;) {
        auto attempt = parse_http_proxy_request(buffer);
        if (!attempt) {
            co_await http_reply_error(c, 400, attempt.error().text());
            co_return;
        }
        if (attempt->status == ParseStatus::done) {
            parsed = std::move(attempt).value();
            break;
        }
        if (!co_await read_more(*c, buffer, deadline)) {
            if (c->record.result.find("in time") != std::string::npos) {
                std::string why = c->record.result;
                c->record.result.clear();
                co_await http_reply_error(c, 408, why);
            } else {
                report(*c);
            }
            co_return;
        }
    }
    buffer.erase(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(parsed.consumed));
    const HttpProxyRequest& request = parsed.request;
    if (request.tunnel) c->record.protocol = "http-connect";
    c->record.target = format_host_port(request.host, request.port);
    if (const auto& credentials = c->context->options.credentials;
        credentials && !basic_proxy_authorization_matches(request, *credentials)) {
        co_await http_reply_error(c, 407, "this proxy requires a username and password",
                                  "Proxy-Authenticate: Basic realm=\"anytls\"\r\n");
        co_return;
    }
    // A tunnel's first bytes, or the whole request of a plain-HTTP proxy, leave with the SYN.
    Bytes early;
    if (!request.tunnel) {
        const std::string head = origin_request_head(request);
        early.assign(head.begin(), head.end());
    }
    early.insert(early.end(), buffer.begin(), buffer.end());
    c->record.bytes_up += early.size();
    // A plain-HTTP request has no reply to send before the answer, so nothing is lost by
    // waiting there only where the switch says so; the error page then comes from
    // the relay when the answer fails before its first byte.
    auto opened = co_await open_through_pool(*c, request.host, request.port, std::move(early),
                                             c->context->options.reply_after_synack);
    if (!opened) {
        const int status = http_status_for(opened.error());
        co_await http_reply_error(c, status,
                                  open_failure_text(*c, opened.error(), c->record.target));
        co_return;
    }
    c->stream = std::move(opened).value();
    if (request.tunnel) {
        const std::string established = request.version + " 200 Connection established\r\n\r\n";
        if (!co_await send_to_client(*c, as_bytes(established))) {
            (void)co_await c->stream->close();
            report(*c);
            co_return;
        }
    }
    co_await relay(c);
}

}  // namespace detail

int http_status_for(const Error& error) {
    switch (client::classify_open_failure(error)) {
        case client::OpenFailure::proxy_timeout:
        case client::OpenFailure::target_timeout:
            return 504;
        default:
            return 502;
    }
}

}  // namespace anytls::inbound
