// Tests of the SOCKS5 messages of the local entry point (lib/inbound/socks5_parser.hpp).
#include <doctest/doctest.h>

#include <vector>

#include "base/errors.hpp"
#include "inbound/socks5_parser.hpp"

using namespace anytls;
using namespace anytls::inbound;

namespace {
using Bytes = std::vector<std::uint8_t>;

// Every strict prefix of a message is need_more.
template <typename Parse>
void check_prefixes(const Bytes& message, Parse parse) {
    for (std::size_t n = 0; n < message.size(); ++n) {
        auto r = parse(std::span<const std::uint8_t>(message.data(), n));
        REQUIRE(r.ok());
        CHECK(r->status == ParseStatus::need_more);
    }
}
}  // namespace

TEST_SUITE("socks5_parser") {
    TEST_CASE("greeting: methods, prefixes, trailing bytes are left alone") {
        const Bytes message{0x05, 0x02, 0x00, 0x02, 0xAA};
        auto r = parse_socks5_greeting(message);
        REQUIRE(r.ok());
        CHECK(r->status == ParseStatus::done);
        CHECK(r->consumed == 4);
        CHECK(r->greeting.methods == Bytes{0x00, 0x02});
        check_prefixes(Bytes(message.begin(), message.end() - 1),
                       [](auto s) { return parse_socks5_greeting(s); });
    }
    TEST_CASE("greeting: wrong version and no methods are errors") {
        CHECK(parse_socks5_greeting(Bytes{0x04, 0x01, 0x00}).code() == errc::protocol);
        CHECK(parse_socks5_greeting(Bytes{0x05, 0x00}).code() == errc::protocol);
        CHECK(parse_socks5_greeting(Bytes{'G', 'E', 'T'}).error().text().find("version 71") !=
              std::string::npos);
    }
    TEST_CASE("method choice") {
        Socks5Greeting none{{0x00}};
        Socks5Greeting both{{0x00, 0x02}};
        Socks5Greeting user{{0x02}};
        CHECK(choose_socks5_method(none, false) == socks5_method_none);
        CHECK(choose_socks5_method(none, true) == socks5_method_unacceptable);
        CHECK(choose_socks5_method(both, true) == socks5_method_user_password);
        CHECK(choose_socks5_method(user, false) == socks5_method_unacceptable);
    }
    TEST_CASE("user/password (RFC 1929)") {
        const Bytes message{0x01, 0x03, 'b', 'o', 'b', 0x02, 'p', 'w'};
        auto r = parse_socks5_user_password(message);
        REQUIRE(r.ok());
        CHECK(r->status == ParseStatus::done);
        CHECK(r->consumed == message.size());
        CHECK(r->credentials.username == "bob");
        CHECK(r->credentials.password == "pw");
        check_prefixes(message, [](auto s) { return parse_socks5_user_password(s); });
        auto empty_password = parse_socks5_user_password(Bytes{0x01, 0x01, 'a', 0x00});
        REQUIRE(empty_password.ok());
        CHECK(empty_password->credentials.password.empty());
        CHECK(parse_socks5_user_password(Bytes{0x05, 0x01, 'a', 0x00}).code() == errc::protocol);
        CHECK(parse_socks5_user_password(Bytes{0x01, 0x00, 0x00}).code() == errc::protocol);
    }
    TEST_CASE("credentials_match") {
        const Socks5Credentials expected{"alice", "secret"};
        CHECK(credentials_match({"alice", "secret"}, expected));
        CHECK_FALSE(credentials_match({"alice", "secreT"}, expected));
        CHECK_FALSE(credentials_match({"alice", "secret2"}, expected));
        CHECK_FALSE(credentials_match({"alice", "secre"}, expected));
        CHECK_FALSE(credentials_match({"alic", "secret"}, expected));
        CHECK_FALSE(credentials_match({"", ""}, expected));
    }
    TEST_CASE("request: IPv4, domain, IPv6, with early data after it") {
        const Bytes v4{0x05, 0x01, 0x00, 0x01, 127, 0, 0, 1, 0x1F, 0x90, 'x'};
        auto r = parse_socks5_request(v4);
        REQUIRE(r.ok());
        CHECK(r->status == ParseStatus::done);
        CHECK(r->consumed == 10);
        CHECK(r->request.command == 0x01);
        CHECK(r->request.address.to_string() == "127.0.0.1:8080");
        check_prefixes(Bytes(v4.begin(), v4.end() - 1),
                       [](auto s) { return parse_socks5_request(s); });

        const Bytes name{0x05, 0x03, 0x00, 0x03, 9,   'l', 'o',  'c',
                         'a',  'l',  'h',  'o',  's', 't', 0x00, 0x50};
        auto n = parse_socks5_request(name);
        REQUIRE(n.ok());
        CHECK(n->request.command == 0x03);
        CHECK(n->request.address.to_string() == "localhost:80");

        Bytes v6{0x05, 0x01, 0x00, 0x04};
        for (int i = 0; i < 15; ++i) v6.push_back(0);
        v6.push_back(1);
        v6.push_back(0x01);
        v6.push_back(0xBB);
        auto six = parse_socks5_request(v6);
        REQUIRE(six.ok());
        CHECK(six->request.address.to_string() == "[::1]:443");
    }
    TEST_CASE("request: errors say what is wrong; an unknown address type is flagged") {
        bool unsupported = false;
        auto bad_type = parse_socks5_request(Bytes{0x05, 0x01, 0x00, 0x09, 1, 2, 3}, &unsupported);
        CHECK(bad_type.code() == errc::protocol);
        CHECK(unsupported);
        auto bad_version = parse_socks5_request(Bytes{0x04, 0x01, 0x00, 0x01}, &unsupported);
        CHECK(bad_version.code() == errc::protocol);
        CHECK_FALSE(unsupported);
        CHECK(parse_socks5_request(Bytes{0x05, 0x01, 0x00, 0x03, 0x00, 0x00, 0x50}).code() ==
              errc::protocol);
    }
    TEST_CASE("replies") {
        CHECK(socks5_failure_reply(socks5_reply::connection_refused) ==
              Bytes{5, 5, 0, 1, 0, 0, 0, 0, 0, 0});
        auto bound = proto::SocksAddress::from_ipv4({127, 0, 0, 1}, 1080);
        CHECK(socks5_reply_message(socks5_reply::succeeded, bound) ==
              Bytes{5, 0, 0, 1, 127, 0, 0, 1, 0x04, 0x38});
    }
    TEST_CASE("UDP datagrams: header round trip, whole datagrams only") {
        Bytes datagram;
        auto address = proto::SocksAddress::from_host("example.com", 53).value();
        REQUIRE(append_socks5_udp_header(datagram, address).ok());
        datagram.push_back('q');
        auto r = parse_socks5_udp_datagram(datagram);
        REQUIRE(r.ok());
        CHECK(r->fragment == 0);
        CHECK(r->address == address);
        CHECK(r->header_size == datagram.size() - 1);
        Bytes fragment = datagram;
        fragment[2] = 1;
        CHECK(parse_socks5_udp_datagram(fragment)->fragment == 1);
        CHECK(parse_socks5_udp_datagram(Bytes{0, 0, 0}).code() == errc::protocol);
        CHECK(parse_socks5_udp_datagram(Bytes{0, 0, 0, 1, 127, 0}).code() == errc::protocol);
    }
}
