// UDP-over-TCP v2 encoding and decoding (see udp_over_tcp.hpp).
#include "proto/udp_over_tcp.hpp"

#include <algorithm>
#include <string>

#include "base/errors.hpp"

namespace anytls::proto {

namespace {

// uot.AddrParser's family bytes (sing common/uot/protocol.go).
constexpr std::uint8_t packet_family_ipv4 = 0x00;
constexpr std::uint8_t packet_family_ipv6 = 0x01;
constexpr std::uint8_t packet_family_name = 0x02;

void append_u16(std::vector<std::uint8_t>& out, std::uint16_t value) {
    out.push_back(static_cast<std::uint8_t>(value >> 8));
    out.push_back(static_cast<std::uint8_t>(value));
}

std::uint16_t read_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

struct AddressDecode {
    bool done = false;
    SocksAddress address;
    std::size_t consumed = 0;
};

// A per-packet address from the front of `input`; done == false: need more bytes.
Result<AddressDecode> decode_packet_address(std::span<const std::uint8_t> input) {
    AddressDecode result;
    if (input.empty()) return result;
    SocksAddress address;
    std::size_t body = 0;
    switch (input[0]) {
        case packet_family_ipv4: address.type = SocksAddress::Type::ipv4; body = 4; break;
        case packet_family_ipv6: address.type = SocksAddress::Type::ipv6; body = 16; break;
        case packet_family_name:
            address.type = SocksAddress::Type::domain;
            if (input.size() < 2) return result;
            if (input[1] == 0) return make_error(errc::protocol, "empty name in UDP-over-TCP packet address");
            body = 1 + std::size_t{input[1]};
            break;
        default:
            return make_error(errc::protocol, "unknown address family " + std::to_string(input[0]) +
                                                  " in UDP-over-TCP packet");
    }
    const std::size_t total = 1 + body + 2;
    if (input.size() < total) return result;
    if (address.type == SocksAddress::Type::domain) {
        address.domain.assign(reinterpret_cast<const char*>(input.data() + 2), body - 1);
    } else {
        std::copy_n(input.begin() + 1, body, address.ip.begin());
    }
    address.port = read_u16(input.data() + 1 + body);
    result.done = true;
    result.address = std::move(address);
    result.consumed = total;
    return result;
}

}  // namespace

Result<void> append_udp_over_tcp_request(std::vector<std::uint8_t>& out, const UdpOverTcpRequest& request) {
    std::vector<std::uint8_t> bytes;
    bytes.push_back(request.is_connect ? 1 : 0);
    if (auto appended = append_socks_address(bytes, request.destination); !appended) return appended;
    out.insert(out.end(), bytes.begin(), bytes.end());
    return {};
}

Result<UdpOverTcpRequestDecode> decode_udp_over_tcp_request(std::span<const std::uint8_t> input) {
    UdpOverTcpRequestDecode result;
    if (input.empty()) return result;
    auto address = decode_socks_address(input.subspan(1));
    if (!address) return make_error(errc::protocol, "UDP-over-TCP request: " + address.error().text());
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

Result<void> append_udp_over_tcp_address(std::vector<std::uint8_t>& out, const SocksAddress& address) {
    switch (address.type) {
        case SocksAddress::Type::ipv4:
            out.push_back(packet_family_ipv4);
            out.insert(out.end(), address.ip.begin(), address.ip.begin() + 4);
            break;
        case SocksAddress::Type::ipv6:
            out.push_back(packet_family_ipv6);
            out.insert(out.end(), address.ip.begin(), address.ip.end());
            break;
        case SocksAddress::Type::domain:
            if (address.domain.empty() || address.domain.size() > 255) {
                return make_error(errc::invalid_argument, "UDP-over-TCP address name must be 1..255 bytes");
            }
            out.push_back(packet_family_name);
            out.push_back(static_cast<std::uint8_t>(address.domain.size()));
            out.insert(out.end(), address.domain.begin(), address.domain.end());
            break;
    }
    append_u16(out, address.port);
    return {};
}

Result<void> append_udp_over_tcp_packet(std::vector<std::uint8_t>& out, bool connect_mode,
                                        const SocksAddress* address, std::span<const std::uint8_t> payload) {
    if (payload.size() > max_udp_over_tcp_payload) {
        return make_error(errc::invalid_argument, "UDP-over-TCP datagram larger than 65535 bytes");
    }
    const std::size_t start = out.size();
    if (!connect_mode) {
        if (!address) return make_error(errc::invalid_argument, "per-packet UDP-over-TCP needs an address");
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
        auto address = decode_packet_address(rest);
        if (!address) return std::move(address).error();
        if (!address->done) return std::optional<UdpOverTcpPacketView>{};
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
