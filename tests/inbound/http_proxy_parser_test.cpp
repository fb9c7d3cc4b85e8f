// Tests of the HTTP proxy request parser (lib/inbound/http_proxy_parser.hpp).
#include <doctest/doctest.h>

#include <string>

#include "base/errors.hpp"
#include "inbound/http_proxy_parser.hpp"

using namespace anytls;
using namespace anytls::inbound;

namespace {
Result<HttpProxyRequestParse> parse(std::string_view text, std::size_t limit = max_http_head_size) {
    return parse_http_proxy_request(
        std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(text.data()),
                                      text.size()),
        limit);
}
std::string error_of(std::string_view text) {
    auto r = parse(text);
    REQUIRE_FALSE(r.ok());
    CHECK(r.code() == errc::protocol);
    return r.error().text();
}
}  // namespace

TEST_SUITE("http_proxy_parser") {
    TEST_CASE("CONNECT host:port, prefixes are need_more, body bytes stay") {
        const std::string text =
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\nTLS";
        auto r = parse(text);
        REQUIRE(r.ok());
        CHECK(r->status == ParseStatus::done);
        CHECK(r->consumed == text.size() - 3);
        CHECK(r->request.tunnel);
        CHECK(r->request.host == "example.com");
        CHECK(r->request.port == 443);
        CHECK(*r->request.header("host") == "example.com:443");
        for (std::size_t n = 0; n < r->consumed; ++n) {
            auto partial = parse(std::string_view(text).substr(0, n));
            REQUIRE(partial.ok());
            CHECK(partial->status == ParseStatus::need_more);
        }
    }
    TEST_CASE("CONNECT to IPv6 and bare LF lines") {
        auto r = parse("CONNECT [::1]:8443 HTTP/1.0\n\n");
        REQUIRE(r.ok());
        CHECK(r->request.host == "::1");
        CHECK(r->request.port == 8443);
        CHECK(r->request.version == "HTTP/1.0");
    }
    TEST_CASE("absolute-form GET: host, default port, origin-form, rewritten head") {
        auto r = parse(
            "GET http://Example.com/a/b?c=d#frag HTTP/1.1\r\nHost: "
            "Example.com\r\nProxy-Connection: "
            "keep-alive\r\nConnection: keep-alive\r\nAccept: */*\r\nProxy-Authorization: Basic "
            "eDp5\r\n\r\n");
        REQUIRE(r.ok());
        CHECK_FALSE(r->request.tunnel);
        CHECK(r->request.host == "Example.com");
        CHECK(r->request.port == 80);
        CHECK(r->request.origin_form == "/a/b?c=d");
        CHECK(origin_request_head(r->request) ==
              "GET /a/b?c=d HTTP/1.1\r\nHost: Example.com\r\nAccept: */*\r\nConnection: "
              "close\r\n\r\n");
    }
    TEST_CASE("absolute-form without a path or Host header") {
        auto r = parse("HEAD http://127.0.0.1:8080 HTTP/1.1\r\n\r\n");
        REQUIRE(r.ok());
        CHECK(r->request.port == 8080);
        CHECK(origin_request_head(r->request) ==
              "HEAD / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: close\r\n\r\n");
        auto q = parse("GET http://h?x=1 HTTP/1.1\r\n\r\n");
        REQUIRE(q.ok());
        CHECK(q->request.origin_form == "/?x=1");
    }
    TEST_CASE("errors are sentences") {
        CHECK(error_of("GET /relative HTTP/1.1\r\n\r\n").find("absolute http:// URL") !=
              std::string::npos);
        CHECK(error_of("GET https://h/ HTTP/1.1\r\n\r\n").find("CONNECT") != std::string::npos);
        CHECK(error_of("CONNECT example.com HTTP/1.1\r\n\r\n").find("no port") !=
              std::string::npos);
        CHECK(error_of("CONNECT h:0 HTTP/1.1\r\n\r\n").find("from 1 to 65535") !=
              std::string::npos);
        CHECK(error_of("CONNECT h:99999 HTTP/1.1\r\n\r\n").find("from 1 to 65535") !=
              std::string::npos);
        CHECK(error_of("CONNECT h:x HTTP/1.1\r\n\r\n").find("must be a number") !=
              std::string::npos);
        CHECK(error_of("CONNECT ::1:80 HTTP/1.1\r\n\r\n").find("brackets") != std::string::npos);
        CHECK(error_of("GET http://u@h/ HTTP/1.1\r\n\r\n").find("user information") !=
              std::string::npos);
        CHECK(error_of("GET http://h/ HTTP/2\r\n\r\n").find("HTTP version") != std::string::npos);
        CHECK(error_of("GET http://h/\r\n\r\n").find("METHOD TARGET") != std::string::npos);
        CHECK(error_of("GET http://h/ HTTP/1.1\r\nNoColon\r\n\r\n").find("no colon") !=
              std::string::npos);
        CHECK(error_of("GET http://h/ HTTP/1.1\r\nA: b\r\n c\r\n\r\n").find("folding") !=
              std::string::npos);
        CHECK(error_of("G(T http://h/ HTTP/1.1\r\n\r\n").find("token") != std::string::npos);
    }
    TEST_CASE("the head size is limited, with or without a line end") {
        CHECK(parse(std::string(200, 'a'), 100).code() == errc::protocol);
        std::string many = "GET http://h/ HTTP/1.1\r\n";
        while (many.size() < 300) many += "X-A: b\r\n";
        CHECK(parse(many, 100).code() == errc::protocol);
        CHECK(parse(many + "\r\n", 100).code() == errc::protocol);
        CHECK(parse(many + "\r\n").ok());
    }
    TEST_CASE("Basic proxy authorization") {
        const Socks5Credentials expected{"alice", "s3cret pass"};
        // base64("alice:s3cret pass") = YWxpY2U6czNjcmV0IHBhc3M=
        auto good = parse(
            "GET http://h/ HTTP/1.1\r\nProxy-Authorization: Basic "
            "YWxpY2U6czNjcmV0IHBhc3M=\r\n\r\n");
        REQUIRE(good.ok());
        CHECK(basic_proxy_authorization_matches(good->request, expected));
        auto wrong =
            parse("GET http://h/ HTTP/1.1\r\nProxy-Authorization: Basic YWxpY2U6d3Jvbmc=\r\n\r\n");
        REQUIRE(wrong.ok());
        CHECK_FALSE(basic_proxy_authorization_matches(wrong->request, expected));
        auto garbage = parse("GET http://h/ HTTP/1.1\r\nProxy-Authorization: Basic !!!\r\n\r\n");
        REQUIRE(garbage.ok());
        CHECK_FALSE(basic_proxy_authorization_matches(garbage->request, expected));
        auto none = parse("GET http://h/ HTTP/1.1\r\n\r\n");
        REQUIRE(none.ok());
        CHECK_FALSE(basic_proxy_authorization_matches(none->request, expected));
    }
    TEST_CASE("error responses") {
        const std::string r = http_error_response(502, "cannot reach h:80: refused");
        CHECK(r.starts_with("HTTP/1.1 502 Bad Gateway\r\n"));
        CHECK(r.find("Content-Length: 27\r\n") != std::string::npos);
        CHECK(r.ends_with("\r\n\r\ncannot reach h:80: refused\n"));
    }
}
