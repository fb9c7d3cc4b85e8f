// The one host:port parser (base/host_port.hpp): the forms it takes and the ones it refuses.
#include <doctest/doctest.h>

#include "base/host_port.hpp"

using namespace anytls;

TEST_CASE("parse_host_port: names, IPv4, bracketed IPv6; optional and zero ports by rule") {
    auto a = parse_host_port("example.com:443");
    REQUIRE(a);
    CHECK(a->host == "example.com");
    CHECK(a->port == 443);
    CHECK(a->has_port);
    CHECK_FALSE(a->bracketed);
    auto b = parse_host_port("[::1]:8443");
    REQUIRE(b);
    CHECK(b->host == "::1");
    CHECK(b->bracketed);
    CHECK(b->port == 8443);
    auto c =
        parse_host_port("[fe80::1]", HostPortRules{.port_required = false, .default_port = 80});
    REQUIRE(c);
    CHECK(c->port == 80);
    CHECK_FALSE(c->has_port);
    CHECK(parse_host_port("127.0.0.1:0", HostPortRules{.allow_port_zero = true}));
}

TEST_CASE("parse_host_port: every refusal says why") {
    auto why = [](std::string_view text) {
        auto r = parse_host_port(text);
        REQUIRE_FALSE(r);
        return r.error().text();
    };
    CHECK(why("example.com").find("no port") != std::string::npos);
    CHECK(why("::1:443").find("brackets") != std::string::npos);
    CHECK(why("[::1:443").find("closing ']'") != std::string::npos);
    CHECK(why("[::1]443").find("expected ':PORT'") != std::string::npos);
    CHECK(why(":443").find("the host is missing") != std::string::npos);
    CHECK(why("h:0").find("from 1 to 65535") != std::string::npos);
    CHECK(why("h:65536").find("from 1 to 65535") != std::string::npos);
    CHECK(why("h:99999999999999999999").find("from 1 to 65535") != std::string::npos);
    CHECK(why("h:+1").find("must be a number") != std::string::npos);
    CHECK(why("h:").find("must be a number") != std::string::npos);
}
