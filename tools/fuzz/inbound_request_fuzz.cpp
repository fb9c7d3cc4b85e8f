// Fuzz target: the request parsers of the `anytls socks` entry point (lib/inbound): SOCKS5
// greeting, username/password and request (RFC 1928, RFC 1929), SOCKS5 UDP datagram headers,
// and HTTP proxy request heads (CONNECT and absolute-form). These read bytes from any local
// client before it has authenticated.
//
// Input layout: u8 selector, then the bytes a client sends:
//   selector % 3 == 0: a SOCKS5 conversation — greeting, then (when the greeting offers
//                      method 0x02) username/password, then the request, each parsed from
//                      what is left after the previous one, as the entry point does;
//   selector % 3 == 1: an HTTP request head (limit 4096 bytes) and what follows it;
//   selector % 3 == 2: one SOCKS5 UDP datagram.
//
// Invariants:
//   - a parser that answers done consumed at most the input, and answers the same for
//     exactly the consumed bytes; every strict prefix of those bytes is need_more (SOCKS5);
//   - HTTP: a parsed request has a host and a port > 0; absolute-form gives an origin-form
//     that starts with "/", and the head built for the origin ends with exactly one blank
//     line and has no bare CR or LF (no header injection); need_more only below the limit;
//   - UDP: the address re-encoded as a header parses back to itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "inbound/http_proxy_parser.hpp"
#include "inbound/socks5_parser.hpp"

namespace {

using namespace anytls::inbound;
using Span = std::span<const std::uint8_t>;

template <typename Parse>
std::size_t check_message(Span input, Parse parse, bool* ok) {
    auto r = parse(input);
    *ok = false;
    if (!r) return 0;
    if (r->status == ParseStatus::need_more) return 0;
    FUZZ_CHECK(r->consumed > 0 && r->consumed <= input.size());
    auto exact = parse(input.first(r->consumed));
    FUZZ_CHECK(exact.ok() && exact->status == ParseStatus::done && exact->consumed == r->consumed);
    for (std::size_t n = 0; n < r->consumed; ++n) {
        auto prefix = parse(input.first(n));
        FUZZ_CHECK(prefix.ok() && prefix->status == ParseStatus::need_more);
    }
    *ok = true;
    return r->consumed;
}

void socks5_conversation(Span input) {
    bool ok = false;
    auto greeting = parse_socks5_greeting(input);
    std::size_t used = check_message(
        input, [](Span s) { return parse_socks5_greeting(s); }, &ok);
    if (!ok) return;
    const bool wants_password =
        choose_socks5_method(greeting->greeting, true) == socks5_method_user_password;
    input = input.subspan(used);
    if (wants_password) {
        auto credentials = parse_socks5_user_password(input);
        used = check_message(
            input, [](Span s) { return parse_socks5_user_password(s); }, &ok);
        if (!ok) return;
        FUZZ_CHECK(!credentials->credentials.username.empty());
        FUZZ_CHECK(credentials->credentials.username.size() <= 255 &&
                   credentials->credentials.password.size() <= 255);
        FUZZ_CHECK(credentials_match(credentials->credentials, credentials->credentials));
        input = input.subspan(used);
    }
    auto request = parse_socks5_request(input);
    used = check_message(
        input, [](Span s) { return parse_socks5_request(s); }, &ok);
    if (!ok) return;
    const auto reply = socks5_reply_message(socks5_reply::succeeded, request->request.address);
    FUZZ_CHECK(reply.size() == 3 + request->request.address.encoded_size());
}

bool clean_line_ends(const std::string& head) {
    // Every CR is followed by LF and every LF follows a CR; the head ends with one blank line.
    for (std::size_t i = 0; i < head.size(); ++i) {
        if (head[i] == '\r' && (i + 1 >= head.size() || head[i + 1] != '\n')) return false;
        if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return false;
    }
    return head.size() >= 4 && head.ends_with("\r\n\r\n") &&
           head.find("\r\n\r\n") == head.size() - 4;
}

void http_head(Span input) {
    constexpr std::size_t limit = 4096;
    auto r = parse_http_proxy_request(input, limit);
    if (!r) return;
    if (r->status == ParseStatus::need_more) {
        FUZZ_CHECK(input.size() <= limit);
        return;
    }
    FUZZ_CHECK(r->consumed > 0 && r->consumed <= input.size() && r->consumed <= limit);
    auto exact = parse_http_proxy_request(input.first(r->consumed), limit);
    FUZZ_CHECK(exact.ok() && exact->status == ParseStatus::done && exact->consumed == r->consumed);
    const HttpProxyRequest& request = r->request;
    FUZZ_CHECK(!request.host.empty() && request.port > 0);
    if (!request.tunnel) {
        FUZZ_CHECK(!request.origin_form.empty() && request.origin_form[0] == '/');
        FUZZ_CHECK(clean_line_ends(origin_request_head(request)));
    }
    (void)basic_proxy_authorization_matches(request, Socks5Credentials{"user", "password"});
}

void udp_datagram(Span input) {
    auto r = parse_socks5_udp_datagram(input);
    if (!r) return;
    FUZZ_CHECK(r->header_size <= input.size());
    std::vector<std::uint8_t> header;
    FUZZ_CHECK(append_socks5_udp_header(header, r->address).ok());
    auto again = parse_socks5_udp_datagram(header);
    FUZZ_CHECK(again.ok() && again->address == r->address && again->header_size == header.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    anytls::fuzz::FuzzInput input(data, size);
    const std::uint8_t selector = input.take_u8();
    const Span rest = input.take_bytes(size);
    switch (selector % 3) {
        case 0:
            socks5_conversation(rest);
            break;
        case 1:
            http_head(rest);
            break;
        default:
            udp_datagram(rest);
            break;
    }
    return 0;
}
