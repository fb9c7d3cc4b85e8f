// Fuzz target: decode_socks_address (lib/proto/socks_address.hpp), the server's parser of the
// target address at the start of every stream, and the host-string side of the client.
//
// Input layout: the whole input is
//   - the first PSH data of a stream, for decode_socks_address;
//   - also: u16 port, then a host string, for SocksAddress::from_host.
//
// Invariants:
//   - decoding fails exactly for an unknown type byte or a name of length 0, and then with
//     errc::protocol; need_more exactly when the input is shorter than the encoding its first
//     bytes announce; every strict prefix of a decodable input is need_more;
//   - encode(decode(x)) gives back the consumed bytes, and encoded_size() their count;
//   - an IP address printed by host() and read back by from_host is the same address; a name
//     that from_host keeps as a name is the same name;
//   - from_host fails only for an empty host or a name over 255 bytes; its result encodes
//     and decodes back to itself.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "fuzz_input.hpp"
#include "proto/socks_address.hpp"

namespace {

using anytls::fuzz::FuzzInput;
using namespace anytls::proto;

// The encoding length the first bytes announce, 0 when they are not enough to tell.
std::size_t announced_size(std::span<const std::uint8_t> input) {
    if (input.empty()) return 0;
    switch (input[0]) {
        case 0x01:
            return 1 + 4 + 2;
        case 0x04:
            return 1 + 16 + 2;
        case 0x03:
            return input.size() < 2 ? 0 : 1 + 1 + std::size_t{input[1]} + 2;
        default:
            return 0;
    }
}

void check_round_trip(const SocksAddress& address) {
    const auto encoded = encode_socks_address(address);
    FUZZ_CHECK(encoded.ok());
    FUZZ_CHECK(encoded->size() == address.encoded_size());
    const auto decoded = decode_socks_address(encoded.value());
    FUZZ_CHECK(decoded.ok());
    FUZZ_CHECK(decoded->status == SocksAddressDecode::Status::done);
    FUZZ_CHECK(decoded->consumed == encoded->size());
    FUZZ_CHECK(decoded->address == address);
}

void check_decode(std::span<const std::uint8_t> input) {
    const auto decoded = decode_socks_address(input);
    const bool known_type =
        !input.empty() && (input[0] == 0x01 || input[0] == 0x03 || input[0] == 0x04);
    const bool empty_name = input.size() >= 2 && input[0] == 0x03 && input[1] == 0;
    FUZZ_CHECK(decoded.ok() == (input.empty() || (known_type && !empty_name)));
    if (!decoded) {
        FUZZ_CHECK(decoded.code() == anytls::errc::protocol);
        return;
    }
    const std::size_t size = announced_size(input);
    if (size == 0 || input.size() < size) {
        FUZZ_CHECK(decoded->status == SocksAddressDecode::Status::need_more);
        return;
    }
    FUZZ_CHECK(decoded->status == SocksAddressDecode::Status::done);
    FUZZ_CHECK(decoded->consumed == size);
    const SocksAddress& address = decoded->address;
    FUZZ_CHECK(address.encoded_size() == size);
    const auto encoded = encode_socks_address(address);
    FUZZ_CHECK(encoded.ok());
    FUZZ_CHECK(std::equal(encoded->begin(), encoded->end(), input.begin(),
                          input.begin() + static_cast<std::ptrdiff_t>(size)));

    // Every strict prefix is incomplete, not an error.
    for (std::size_t n = 0; n < size; ++n) {
        const auto prefix = decode_socks_address(input.first(n));
        FUZZ_CHECK(prefix.ok() && prefix->status == SocksAddressDecode::Status::need_more);
    }

    // Through text and back.
    const std::string host = address.host();
    const auto reread = SocksAddress::from_host(host, address.port);
    if (address.type == SocksAddress::Type::domain) {
        FUZZ_CHECK(host == address.domain);
        FUZZ_CHECK(reread.ok());
        if (reread->type == SocksAddress::Type::domain) FUZZ_CHECK(reread.value() == address);
    } else {
        FUZZ_CHECK(reread.ok() && reread.value() == address);
        const std::string text = address.to_string();
        FUZZ_CHECK(text.size() > host.size() && text.find(host) != std::string::npos);
    }
}

void check_from_host(FuzzInput input) {
    const std::uint16_t port = input.take_u16();
    const std::string_view host = anytls::fuzz::as_text(input.rest());
    const auto address = SocksAddress::from_host(host, port);
    if (!address) {
        FUZZ_CHECK(address.code() == anytls::errc::invalid_argument);
        FUZZ_CHECK(host.empty() || host.size() > 255);
        return;
    }
    FUZZ_CHECK(address->port == port);
    if (address->type == SocksAddress::Type::domain) {
        FUZZ_CHECK(address->domain == host);
    } else {
        // An IP literal: printing it and reading that back gives the same address.
        const auto again = SocksAddress::from_host(address->host(), port);
        FUZZ_CHECK(again.ok() && again.value() == address.value());
    }
    check_round_trip(address.value());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    check_decode(input);
    check_from_host(FuzzInput(data, size));
    return 0;
}
