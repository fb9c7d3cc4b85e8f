// UDP-over-TCP v2 encoding and decoding (see udp_over_tcp.hpp).
#include "proto/udp_over_tcp.hpp"

#include <algorithm>
#include <string>

#include "base/errors.hpp"

namespace anytls::proto {

namespace {

// uot.AddrParser's family bytes (sing common/uot/protocol.go).
constexpr AddressFamilyBytes packet_family_bytes{0x00, 0x01, 0x02, "UDP-over-TCP packet address"};

void append_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
    out.push_back(static_cast<std::uint8_t>(value >> 8));
    out.push_back(static_cast<std::uint8_t>(value));
}

std::uint16_t read_u16(const std::uint8_t* p) {
    return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

}  // namespace

Result<void> append_udp_over_tcp_request(std::vector<std::uint8_t>& out,
                                         const UdpOverTcpRequest& request) {
    std::vector<std::uint8_t> bytes;
    bytes.push_back(request.is_connect ? 1 : 0);
    if (auto appended = append_socks_address(bytes, request.destination); !appended)
        return appended;
    out.insert(out.end(), bytes.begin(), bytes.end());
    return {};
}

Result<UdpOverTcpRequestDecode> decode_udp_over_tcp_request(std::span<const std::uint8_t> input) {
    UdpOverTcpRequestDecode result;
    if (input.empty()) return result;
    auto address = decode_socks_address(input.subspan(1));
    if (!address)
        return make_error(errc::protocol, "UDP-over-TCP request: " + address.error().text());
    if (address->status == SocksAddressDecode::Status::need_more) return result;
    result.status = UdpOverTcpRequestDecode::Status::done;
    result.request.is_connect = input[0] != 0;
    result.request.destination = std::move(address->address);
    result.consumed = 1 + address->consumed;
    return result;
}

std::size_t udp_over_tcp_address_size(const SocksAddress& address) {
    // Same sizes as the SOCKS5 form; only the family byte's value differs.
    return address.encoded_size();
}

Result<void> append_udp_over_tcp_address(std::vector<std::uint8_t>& out,
                                         const SocksAddress& address) {
    return append_address(out, address, packet_family_bytes);
}

Result<void> append_udp_over_tcp_packet(std::vector<std::uint8_t>& out, bool connect_mode,
                                        const SocksAddress* address,
                                        std::span<const std::uint8_t> payload) {
    if (payload.size() > max_udp_over_tcp_payload) {
        return make_error(errc::invalid_argument, "UDP-over-TCP datagram larger than 65535 bytes");
    }
    const std::size_t start = out.size();
    if (!connect_mode) {
        if (!address)
            return make_error(errc::invalid_argument, "per-packet UDP-over-TCP needs an address");
        if (auto appended = append_udp_over_tcp_address(out, *address); !appended) {
            out.resize(start);
            return appended;
        }
    }
    append_u16(out, static_cast<std::uint16_t>(payload.size()));
    out.insert(out.end(), payload.begin(), payload.end());
    return {};
}

void UdpOverTcpPacketDecoder::feed(std::span<const std::uint8_t> input) {
    // Views returned by next() point into buffer_, so it only moves here.
    if (offset_ > 0) {
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(offset_));
        offset_ = 0;
    }
    buffer_.insert(buffer_.end(), input.begin(), input.end());
}

Result<std::optional<UdpOverTcpPacketView>> UdpOverTcpPacketDecoder::next() {
    std::span<const std::uint8_t> rest(buffer_.data() + offset_, buffer_.size() - offset_);
    UdpOverTcpPacketView packet;
    std::size_t header = 0;
    if (!connect_mode_) {
        auto address = decode_address(rest, packet_family_bytes);
        if (!address) return std::move(address).error();
        if (address->status == SocksAddressDecode::Status::need_more) {
            return std::optional<UdpOverTcpPacketView>{};
        }
        packet.address = std::move(address->address);
        header = address->consumed;
    }
    if (rest.size() < header + 2) return std::optional<UdpOverTcpPacketView>{};
    const std::size_t length = read_u16(rest.data() + header);
    if (rest.size() < header + 2 + length) return std::optional<UdpOverTcpPacketView>{};
    packet.payload = rest.subspan(header + 2, length);
    offset_ += header + 2 + length;
    return std::optional<UdpOverTcpPacketView>{std::move(packet)};
}

}  // namespace anytls::proto
