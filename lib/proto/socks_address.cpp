// SOCKS5 address encoding and decoding (see socks_address.hpp).
#include "proto/socks_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "base/errors.hpp"

namespace anytls::proto {

namespace {

// The longest name the one-byte length can describe (sing WriteString: "fqdn" too long).
constexpr std::size_t max_domain_size = 255;

std::size_t body_size(const SocksAddress& address) {
    switch (address.type) {
        case SocksAddress::Type::ipv4:
            return 4;
        case SocksAddress::Type::ipv6:
            return 16;
        case SocksAddress::Type::domain:
            return 1 + address.domain.size();
    }
    return 0;
}

bool parse_ipv4(std::string_view text, std::array<std::uint8_t, 4>& out) {
    // inet_pton(AF_INET) takes exactly four decimal parts 0..255 and rejects leading zeros,
    // like Go's netip.ParseAddr.
    if (text.size() >= INET_ADDRSTRLEN) return false;
    char buffer[INET_ADDRSTRLEN] = {};
    std::memcpy(buffer, text.data(), text.size());
    return inet_pton(AF_INET, buffer, out.data()) == 1;
}

bool parse_ipv6(std::string_view text, std::array<std::uint8_t, 16>& out) {
    // netip.ParseAddr accepts a zone suffix ("%eth0"); the wire format has no room for it.
    if (const std::size_t percent = text.find('%'); percent != std::string_view::npos) {
        if (percent + 1 == text.size()) return false;  // Go rejects an empty zone
        text = text.substr(0, percent);
    }
    if (text.size() >= INET6_ADDRSTRLEN) return false;
    char buffer[INET6_ADDRSTRLEN] = {};
    std::memcpy(buffer, text.data(), text.size());
    return inet_pton(AF_INET6, buffer, out.data()) == 1;
}

}  // namespace

SocksAddress SocksAddress::from_ipv4(std::array<std::uint8_t, 4> ip, std::uint16_t port) {
    SocksAddress address;
    address.type = Type::ipv4;
    std::copy(ip.begin(), ip.end(), address.ip.begin());
    address.port = port;
    return address;
}

SocksAddress SocksAddress::from_ipv6(const std::array<std::uint8_t, 16>& ip, std::uint16_t port) {
    SocksAddress address;
    address.type = Type::ipv6;
    address.ip = ip;
    address.port = port;
    return address;
}

Result<SocksAddress> SocksAddress::from_host(std::string_view host, std::uint16_t port) {
    if (host.empty()) return make_error(errc::invalid_argument, "empty target host");
    // inet_pton reads C strings: an embedded NUL must not cut "1.2.3.4\0x" short to an IP.
    const bool may_be_ip = host.find('\0') == std::string_view::npos;
    if (std::array<std::uint8_t, 4> v4{}; may_be_ip && parse_ipv4(host, v4))
        return from_ipv4(v4, port);
    if (may_be_ip && host.find(':') != std::string_view::npos) {
        if (std::array<std::uint8_t, 16> v6{}; parse_ipv6(host, v6)) return from_ipv6(v6, port);
    }
    if (host.size() > max_domain_size) {
        return make_error(errc::invalid_argument, "target host name longer than 255 bytes");
    }
    SocksAddress address;
    address.type = Type::domain;
    address.domain = std::string(host);
    address.port = port;
    return address;
}

std::string SocksAddress::host() const {
    switch (type) {
        case Type::ipv4:
        case Type::ipv6: {
            char buffer[INET6_ADDRSTRLEN] = {};
            inet_ntop(type == Type::ipv4 ? AF_INET : AF_INET6, ip.data(), buffer, sizeof buffer);
            return buffer;
        }
        case Type::domain:
            return domain;
    }
    return {};
}

std::string SocksAddress::to_string() const {
    if (type == Type::ipv6) return "[" + host() + "]:" + std::to_string(port);
    return host() + ":" + std::to_string(port);
}

std::size_t SocksAddress::encoded_size() const { return 1 + body_size(*this) + 2; }

Result<void> append_address(std::vector<std::uint8_t>& out, const SocksAddress& address,
                            const AddressFamilyBytes& families) {
    if (address.type == SocksAddress::Type::domain &&
        (address.domain.empty() || address.domain.size() > max_domain_size)) {
        return make_error(errc::invalid_argument,
                          std::string(families.what) + ": host name must be 1..255 bytes");
    }
    out.reserve(out.size() + address.encoded_size());
    switch (address.type) {
        case SocksAddress::Type::ipv4:
            out.push_back(families.ipv4);
            out.insert(out.end(), address.ip.begin(), address.ip.begin() + 4);
            break;
        case SocksAddress::Type::ipv6:
            out.push_back(families.ipv6);
            out.insert(out.end(), address.ip.begin(), address.ip.end());
            break;
        case SocksAddress::Type::domain:
            out.push_back(families.name);
            out.push_back(static_cast<std::uint8_t>(address.domain.size()));
            out.insert(out.end(), address.domain.begin(), address.domain.end());
            break;
    }
    out.push_back(static_cast<std::uint8_t>(address.port >> 8));
    out.push_back(static_cast<std::uint8_t>(address.port));
    return {};
}

Result<SocksAddressDecode> decode_address(std::span<const std::uint8_t> input,
                                          const AddressFamilyBytes& families) {
    SocksAddressDecode result;
    if (input.empty()) return result;

    SocksAddress address;
    std::size_t body = 0;
    if (input[0] == families.ipv4) {
        address.type = SocksAddress::Type::ipv4;
        body = 4;
    } else if (input[0] == families.ipv6) {
        address.type = SocksAddress::Type::ipv6;
        body = 16;
    } else if (input[0] == families.name) {
        address.type = SocksAddress::Type::domain;
        if (input.size() < 2) return result;
        if (input[1] == 0) {
            return make_error(errc::protocol, "empty name in " + std::string(families.what));
        }
        body = 1 + std::size_t{input[1]};
    } else {
        return make_error(errc::protocol, "unknown address type " + std::to_string(input[0]) +
                                              " in " + std::string(families.what));
    }
    const std::size_t total = 1 + body + 2;
    if (input.size() < total) return result;

    if (address.type == SocksAddress::Type::domain) {
        address.domain.assign(reinterpret_cast<const char*>(input.data() + 2), body - 1);
    } else {
        std::copy_n(input.begin() + 1, body, address.ip.begin());
    }
    address.port = static_cast<std::uint16_t>((input[1 + body] << 8) | input[2 + body]);
    result.status = SocksAddressDecode::Status::done;
    result.address = std::move(address);
    result.consumed = total;
    return result;
}

Result<void> append_socks_address(std::vector<std::uint8_t>& out, const SocksAddress& address) {
    return append_address(out, address, socks_family_bytes);
}

Result<std::vector<std::uint8_t>> encode_socks_address(const SocksAddress& address) {
    std::vector<std::uint8_t> out;
    if (auto appended = append_socks_address(out, address); !appended)
        return std::move(appended).error();
    return out;
}

Result<SocksAddressDecode> decode_socks_address(std::span<const std::uint8_t> input) {
    return decode_address(input, socks_family_bytes);
}

}  // namespace anytls::proto
