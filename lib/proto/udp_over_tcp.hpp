// UDP-over-TCP v2: sing's "uot" format (github.com/sagernet/sing common/uot, read at v0.6.1),
// carried inside an AnyTLS stream whose target is `sp.v2.udp-over-tcp.arpa` (docs/DESIGN.md,
// "UDP over TCP"; uot/protocol.go MagicAddress, Version = 2; the port is not looked at — sing-box
// common/uot/router.go matches on the name only; clients send port 0).
//
// After the stream's SOCKS address, the client sends one request header
// (protocol.go EncodeRequest / ReadRequest):
//
//     u8 isConnect (0 or 1; ReadRequest takes any non-zero byte as true, binary.Read of bool)
//     destination in SOCKS5 form, M.SocksaddrSerializer:
//         0x01 IPv4 (4) | 0x03 u8 n + name (n) | 0x04 IPv6 (16), then u16 BE port
//
// and then packets, in both directions (conn.go WriteTo / ReadFrom / WritePacket /
// ReadPacket; server.go loopInput / loopOutput):
//
//     connect mode:     u16 BE length | payload
//     per-packet mode:  address | u16 BE length | payload
//
// where the per-packet address uses ANOTHER family numbering, uot.AddrParser
// (protocol.go: M.NewSerializer(AddressFamilyByte(0x00, IPv4), (0x01, IPv6), (0x02, Fqdn))):
//
//     0x00 IPv4 (4) | 0x01 IPv6 (16) | 0x02 u8 n + name (n), then u16 BE port
//
// Client -> server the address says where the datagram goes; server -> client it is the
// source of the reply. In connect mode every datagram goes to the request's destination.
//
// Differences from sing kept on purpose: an empty name is rejected as errc::protocol (sing's
// ReadAddrPort would then skip the port, a quirk no writer produces); names are kept as sent
// (sing re-parses IP literals in names, which changes nothing once resolved). Pure: no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "proto/socks_address.hpp"

namespace anytls::proto {

inline constexpr std::uint8_t udp_over_tcp_version = 2;
// The u16 length field's limit on one datagram's payload.
inline constexpr std::size_t max_udp_over_tcp_payload = 65535;
// The longest per-packet address: 0x02, n, 255 name bytes, port.
inline constexpr std::size_t max_udp_over_tcp_address_size = 1 + 1 + 255 + 2;

// The request header that opens a UDP-over-TCP stream.
struct UdpOverTcpRequest {
    bool is_connect = false;
    SocksAddress destination;  // encoded with SOCKS5 family bytes

    bool operator==(const UdpOverTcpRequest&) const = default;
};

Result<void> append_udp_over_tcp_request(std::vector<std::uint8_t>& out,
                                         const UdpOverTcpRequest& request);

struct UdpOverTcpRequestDecode {
    enum class Status { need_more, done };
    Status status = Status::need_more;
    UdpOverTcpRequest request;  // when done
    std::size_t consumed = 0;   // when done: the header's length; the rest is packets
};

// Decodes the header from the front of `input`: need_more for a strict prefix, errc::protocol
// for an unknown family byte or an empty name.
Result<UdpOverTcpRequestDecode> decode_udp_over_tcp_request(std::span<const std::uint8_t> input);

// Per-packet addresses (AddrParser numbering). The SocksAddress's own Type keeps its SOCKS5
// values; only the wire byte differs.
std::size_t udp_over_tcp_address_size(const SocksAddress& address);
Result<void> append_udp_over_tcp_address(std::vector<std::uint8_t>& out,
                                         const SocksAddress& address);

// Appends one packet. `address` must be given in per-packet mode and is ignored (may be null)
// in connect mode. errc::invalid_argument for a payload over 65535 bytes or a bad name.
Result<void> append_udp_over_tcp_packet(std::vector<std::uint8_t>& out, bool connect_mode,
                                        const SocksAddress* address,
                                        std::span<const std::uint8_t> payload);

// A decoded packet; `payload` points into the decoder and stays valid until the next feed().
struct UdpOverTcpPacketView {
    std::optional<SocksAddress> address;  // per-packet mode only
    std::span<const std::uint8_t> payload;
};

// Splits the byte stream after the header into packets. Input may be cut anywhere.
//     decoder.feed(chunk);
//     while (auto p = decoder.next(); p && *p) use(**p);   // an error ends the stream
// Memory: the decoder holds what was fed and not yet returned; a caller that drains next()
// after every feed() keeps it at one chunk plus one incomplete packet (at most
// max_udp_over_tcp_address_size + 2 + 65535 bytes).
class UdpOverTcpPacketDecoder {
public:
    explicit UdpOverTcpPacketDecoder(bool connect_mode) : connect_mode_(connect_mode) {}

    void feed(std::span<const std::uint8_t> input);
    // The next complete packet; nullopt when more input is needed; errc::protocol for a bad
    // address (the stream cannot be resynchronised after that).
    Result<std::optional<UdpOverTcpPacketView>> next();

    bool connect_mode() const { return connect_mode_; }
    // Bytes fed and not yet returned as packets.
    std::size_t buffered() const { return buffer_.size() - offset_; }

private:
    bool connect_mode_;
    std::vector<std::uint8_t> buffer_;
    std::size_t offset_ = 0;
};

}  // namespace anytls::proto
