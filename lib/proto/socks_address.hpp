// The stream target: a SOCKS5-style address (RFC 1928 section 5) in the form sing's
// M.SocksaddrSerializer writes, sent as the first PSH of every stream (docs/DESIGN.md, "Opening a
// stream on the wire"):
//
//     0x01 | 4 bytes IPv4          | u16 port (big-endian)
//     0x03 | u8 n | n bytes name   | u16 port
//     0x04 | 16 bytes IPv6         | u16 port
//
// Host strings: an IP literal becomes 0x01/0x04, anything else a name, like sing's
// M.ParseSocksaddrHostPort (netip.ParseAddr, then Fqdn). That means:
//   - dotted-quad IPv4 ("192.0.2.1"; no leading zeros, no short forms) -> 0x01;
//   - any IPv6 literal -> 0x04, including IPv4-mapped ("::ffff:192.0.2.1", 16 bytes, as
//     netip keeps it 6-in-4 and WriteAddress writes AsSlice()); a zone ("fe80::1%eth0") is
//     accepted and dropped, as AsSlice() drops it; brackets are NOT stripped ("[::1]" is a name);
//   - everything else is sent as a name, unchanged (no lower-casing, no IDNA).
// Decoding keeps names as sent (ReadAddress does not re-parse them) and rejects an empty name.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace anytls::proto {

struct SocksAddress {
    enum class Type : std::uint8_t { ipv4 = 0x01, domain = 0x03, ipv6 = 0x04 };

    Type type = Type::domain;
    std::array<std::uint8_t, 16> ip{};  // ipv4: the first 4 bytes
    std::string domain;                 // type domain: 1..255 bytes
    std::uint16_t port = 0;

    static SocksAddress from_ipv4(std::array<std::uint8_t, 4> ip, std::uint16_t port);
    static SocksAddress from_ipv6(const std::array<std::uint8_t, 16>& ip, std::uint16_t port);
    // Classifies `host` as described above. Fails with errc::invalid_argument for an empty
    // host or a name longer than 255 bytes.
    static Result<SocksAddress> from_host(std::string_view host, std::uint16_t port);

    // The host as text: "192.0.2.1", "2001:db8::1" (RFC 5952 form), or the name.
    std::string host() const;
    // "host:port", with IPv6 in brackets: "[2001:db8::1]:443".
    std::string to_string() const;

    // Encoded size in bytes.
    std::size_t encoded_size() const;

    bool operator==(const SocksAddress&) const = default;
};

// UDP-over-TCP (sing uot v2) uses this target (docs/DESIGN.md, "UDP over TCP").
inline constexpr std::string_view udp_over_tcp_host = "sp.v2.udp-over-tcp.arpa";

// The family bytes of an address encoding. The layout (family byte, body, u16 BE port) is the
// same everywhere; only the numbering differs: SOCKS5's for stream targets and the UDP-over-TCP
// request, uot.AddrParser's for UDP-over-TCP per-packet addresses (udp_over_tcp.hpp).
struct AddressFamilyBytes {
    std::uint8_t ipv4;
    std::uint8_t ipv6;
    std::uint8_t name;
    std::string_view what;  // the encoding, as errors name it: "stream address"
};
inline constexpr AddressFamilyBytes socks_family_bytes{0x01, 0x04, 0x03, "stream address"};

struct SocksAddressDecode {
    enum class Status { need_more, done };
    Status status = Status::need_more;
    SocksAddress address;      // when done
    std::size_t consumed = 0;  // when done: the encoding's length; the rest is stream data
};

// Appends the encoding with `families`' bytes. Fails with errc::invalid_argument for a domain
// that is empty or longer than 255 bytes.
Result<void> append_address(std::vector<std::uint8_t>& out, const SocksAddress& address,
                            const AddressFamilyBytes& families);
// Decodes an address from the front of `input`. need_more when `input` is a strict prefix of
// a valid encoding; errc::protocol for an unknown family byte or an empty name.
Result<SocksAddressDecode> decode_address(std::span<const std::uint8_t> input,
                                          const AddressFamilyBytes& families);

// The SOCKS5 form (socks_family_bytes).
Result<void> append_socks_address(std::vector<std::uint8_t>& out, const SocksAddress& address);
Result<std::vector<std::uint8_t>> encode_socks_address(const SocksAddress& address);
Result<SocksAddressDecode> decode_socks_address(std::span<const std::uint8_t> input);

}  // namespace anytls::proto
