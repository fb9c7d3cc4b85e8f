// SOCKS addresses: exact bytes for each type, host classification, and decoding with
// need-more / malformed.
#include <doctest/doctest.h>

#include "base/errors.hpp"
#include "proto/socks_address.hpp"
#include "proto_test_util.hpp"

using namespace anytls;
using namespace anytls::proto;
using anytls::proto::test::Bytes;
using anytls::proto::test::concat;
using anytls::proto::test::hex;

namespace {

Bytes encode_host(std::string_view host, std::uint16_t port) {
    auto address = SocksAddress::from_host(host, port);
    REQUIRE(address.ok());
    auto bytes = encode_socks_address(*address);
    REQUIRE(bytes.ok());
    return *bytes;
}

SocksAddress decode_done(const Bytes& bytes) {
    auto decoded = decode_socks_address(bytes);
    REQUIRE(decoded.ok());
    REQUIRE(decoded->status == SocksAddressDecode::Status::done);
    CHECK(decoded->consumed == bytes.size());
    return decoded->address;
}

}  // namespace

TEST_SUITE("proto") {
    TEST_CASE("socks address: exact bytes for every type") {
        CHECK(encode_host("1.2.3.4", 80) == hex("01 01020304 0050"));
        CHECK(encode_host("example.com", 443) == hex("03 0b 6578616d706c652e636f6d 01bb"));
        CHECK(encode_host("2001:db8::1", 8080) == hex("04 20010db8000000000000000000000001 1f90"));
        CHECK(encode_host("255.255.255.255", 65535) == hex("01 ffffffff ffff"));
        CHECK(encode_host("::", 0) == hex("04 00000000000000000000000000000000 0000"));
    }

    TEST_CASE("socks address: how host strings are classified") {
        using Type = SocksAddress::Type;
        const auto type_of = [](std::string_view host) {
            auto address = SocksAddress::from_host(host, 1);
            REQUIRE(address.ok());
            return address->type;
        };
        CHECK(type_of("192.0.2.1") == Type::ipv4);
        CHECK(type_of("2001:db8::1") == Type::ipv6);
        // IPv4-mapped IPv6 stays IPv6, 16 bytes (netip.ParseAddr keeps it 4-in-6).
        CHECK(encode_host("::ffff:1.2.3.4", 1) == hex("04 00000000000000000000ffff01020304 0001"));
        // A zone is dropped: the wire format has no room for it.
        CHECK(encode_host("fe80::1%eth0", 1) == hex("04 fe800000000000000000000000000001 0001"));
        // Not IP literals, so names: leading zeros, short forms, brackets, trailing garbage.
        CHECK(type_of("01.2.3.4") == Type::domain);
        CHECK(type_of("1.2.3") == Type::domain);
        CHECK(type_of("1.2.3.256") == Type::domain);
        CHECK(type_of("[::1]") == Type::domain);
        CHECK(type_of("1.2.3.4 ") == Type::domain);
        CHECK(type_of(std::string_view("1.2.3.4\0x", 9)) == Type::domain);
        CHECK(type_of("localhost") == Type::domain);
        CHECK(type_of("Example.COM") == Type::domain);
        CHECK(SocksAddress::from_host("Example.COM", 1)->domain == "Example.COM");
    }

    TEST_CASE("socks address: name length limits") {
        CHECK(SocksAddress::from_host("", 80).code() == errc::invalid_argument);
        CHECK(SocksAddress::from_host(std::string(256, 'a'), 80).code() == errc::invalid_argument);
        const Bytes longest = encode_host(std::string(255, 'a'), 80);
        CHECK(longest.size() == 1 + 1 + 255 + 2);
        CHECK(longest[1] == 0xff);

        SocksAddress empty_domain;
        empty_domain.type = SocksAddress::Type::domain;
        CHECK(encode_socks_address(empty_domain).code() == errc::invalid_argument);
    }

    TEST_CASE("socks address: the UDP-over-TCP target") {
        CHECK(encode_host(udp_over_tcp_host, 0) ==
              concat({hex("03 17"), test::bytes_of("sp.v2.udp-over-tcp.arpa"), hex("0000")}));
    }

    TEST_CASE("socks address: decode round trips and text forms") {
        const auto v4 = decode_done(hex("01 c0000201 01bb"));
        CHECK(v4 == SocksAddress::from_ipv4({192, 0, 2, 1}, 443));
        CHECK(v4.host() == "192.0.2.1");
        CHECK(v4.to_string() == "192.0.2.1:443");

        const auto v6 = decode_done(hex("04 20010db8000000000000000000000001 0050"));
        CHECK(v6.type == SocksAddress::Type::ipv6);
        CHECK(v6.host() == "2001:db8::1");
        CHECK(v6.to_string() == "[2001:db8::1]:80");

        const auto name = decode_done(hex("03 0b 6578616d706c652e636f6d 01bb"));
        CHECK(name.type == SocksAddress::Type::domain);
        CHECK(name.domain == "example.com");
        CHECK(name.to_string() == "example.com:443");
        CHECK(name.encoded_size() == 15);

        for (const char* host : {"10.0.0.1", "::1", "a.example", "sp.v2.udp-over-tcp.arpa"}) {
            auto address = SocksAddress::from_host(host, 1234);
            REQUIRE(address.ok());
            CHECK(decode_done(encode_socks_address(*address).value()) == *address);
        }
    }

    TEST_CASE("socks address: need more for every strict prefix; trailing data is left alone") {
        for (const Bytes& encoded : {hex("01 01020304 0050"), hex("03 03 616263 0050"),
                                     hex("04 20010db8000000000000000000000001 1f90")}) {
            for (std::size_t n = 0; n < encoded.size(); ++n) {
                CAPTURE(n);
                auto decoded = decode_socks_address(std::span(encoded).first(n));
                REQUIRE(decoded.ok());
                CHECK(decoded->status == SocksAddressDecode::Status::need_more);
            }
            const Bytes with_data = concat({encoded, hex("16 03 01")});
            auto decoded = decode_socks_address(with_data);
            REQUIRE(decoded.ok());
            CHECK(decoded->status == SocksAddressDecode::Status::done);
            CHECK(decoded->consumed == encoded.size());
        }
    }

    TEST_CASE("socks address: malformed input") {
        CHECK(decode_socks_address(hex("03 00 0050")).code() == errc::protocol);  // empty name
        CHECK(decode_socks_address(hex("03 00")).code() == errc::protocol);
        CHECK(decode_socks_address(hex("00")).code() == errc::protocol);
        CHECK(decode_socks_address(hex("02 00000000")).code() == errc::protocol);
        CHECK(decode_socks_address(hex("05")).code() == errc::protocol);
        CHECK(decode_socks_address(hex("ff")).code() == errc::protocol);
    }

}  // TEST_SUITE
