// SOCKS5 messages of the local entry point (see socks5_parser.hpp).
#include "inbound/socks5_parser.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "base/errors.hpp"

namespace anytls::inbound {

namespace {

Error protocol_error(std::string message) { return make_error(errc::protocol, std::move(message)); }

}  // namespace

Result<Socks5GreetingParse> parse_socks5_greeting(std::span<const std::uint8_t> input) {
    Socks5GreetingParse out;
    if (input.empty()) return out;
    if (input[0] != socks5_version)
        return protocol_error(fmt::format("SOCKS version {} is not supported (only 5)", input[0]));
    if (input.size() < 2) return out;
    const std::size_t count = input[1];
    if (count == 0) return protocol_error("the SOCKS5 greeting offers no authentication method");
    if (input.size() < 2 + count) return out;
    out.greeting.methods.assign(input.begin() + 2,
                                input.begin() + 2 + static_cast<std::ptrdiff_t>(count));
    out.consumed = 2 + count;
    out.status = ParseStatus::done;
    return out;
}

std::uint8_t choose_socks5_method(const Socks5Greeting& greeting, bool require_user_password) {
    const std::uint8_t wanted =
        require_user_password ? socks5_method_user_password : socks5_method_none;
    const bool offered = std::find(greeting.methods.begin(), greeting.methods.end(), wanted) !=
                         greeting.methods.end();
    return offered ? wanted : socks5_method_unacceptable;
}

Result<Socks5CredentialsParse> parse_socks5_user_password(std::span<const std::uint8_t> input) {
    Socks5CredentialsParse out;
    if (input.empty()) return out;
    if (input[0] != socks5_user_password_version)
        return protocol_error(fmt::format(
            "username/password authentication version {} is not supported (only 1)", input[0]));
    if (input.size() < 2) return out;
    const std::size_t user_length = input[1];
    if (user_length == 0) return protocol_error("the SOCKS5 username is empty");
    if (input.size() < 2 + user_length + 1) return out;
    const std::size_t password_length = input[2 + user_length];
    const std::size_t total = 2 + user_length + 1 + password_length;
    if (input.size() < total) return out;
    const char* base = reinterpret_cast<const char*>(input.data());
    out.credentials.username.assign(base + 2, user_length);
    out.credentials.password.assign(base + 3 + user_length, password_length);
    out.consumed = total;
    out.status = ParseStatus::done;
    return out;
}

bool credentials_match(const Socks5Credentials& given, const Socks5Credentials& expected) {
    auto same = [](const std::string& a, const std::string& b) {
        // Every byte of the expected value is looked at, whatever the input: the time says
        // nothing about a matching prefix.
        unsigned difference = a.size() == b.size() ? 0u : 1u;
        for (std::size_t i = 0; i < b.size(); ++i) {
            const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
            difference |= x ^ static_cast<unsigned char>(b[i]);
        }
        return difference == 0;
    };
    const bool user = same(given.username, expected.username);
    const bool password = same(given.password, expected.password);
    return user & password;
}

Result<Socks5RequestParse> parse_socks5_request(std::span<const std::uint8_t> input,
                                                bool* unsupported_address_type) {
    if (unsupported_address_type) *unsupported_address_type = false;
    Socks5RequestParse out;
    if (input.empty()) return out;
    if (input[0] != socks5_version)
        return protocol_error(fmt::format("SOCKS request version {} is not 5", input[0]));
    if (input.size() < 3) return out;
    // RSV (input[2]) "must be 0"; other values are ignored, as most servers do.
    auto address = proto::decode_socks_address(input.subspan(3));
    if (!address) {
        if (unsupported_address_type && input.size() > 3 && input[3] != 0x01 && input[3] != 0x03 &&
            input[3] != 0x04)
            *unsupported_address_type = true;
        return protocol_error(
            fmt::format("bad SOCKS5 request address: {}", address.error().text()));
    }
    if (address->status == proto::SocksAddressDecode::Status::need_more) return out;
    out.request.command = input[1];
    out.request.address = std::move(address->address);
    out.consumed = 3 + address->consumed;
    out.status = ParseStatus::done;
    return out;
}

std::vector<std::uint8_t> socks5_reply_message(std::uint8_t reply,
                                               const proto::SocksAddress& bound) {
    std::vector<std::uint8_t> out{socks5_version, reply, 0x00};
    if (!proto::append_socks_address(out, bound)) {
        out.resize(3);
        (void)proto::append_socks_address(out, proto::SocksAddress::from_ipv4({0, 0, 0, 0}, 0));
    }
    return out;
}

std::vector<std::uint8_t> socks5_failure_reply(std::uint8_t reply) {
    return socks5_reply_message(reply, proto::SocksAddress::from_ipv4({0, 0, 0, 0}, 0));
}

Result<Socks5UdpDatagram> parse_socks5_udp_datagram(std::span<const std::uint8_t> datagram) {
    if (datagram.size() < 4)
        return protocol_error("the SOCKS5 UDP datagram is shorter than its header");
    Socks5UdpDatagram out;
    out.fragment = datagram[2];
    auto address = proto::decode_socks_address(datagram.subspan(3));
    if (!address)
        return protocol_error(
            fmt::format("bad SOCKS5 UDP datagram address: {}", address.error().text()));
    if (address->status == proto::SocksAddressDecode::Status::need_more)
        return protocol_error("the SOCKS5 UDP datagram ends inside its address");
    out.address = std::move(address->address);
    out.header_size = 3 + address->consumed;
    return out;
}

Result<void> append_socks5_udp_header(std::vector<std::uint8_t>& out,
                                      const proto::SocksAddress& address) {
    out.push_back(0);
    out.push_back(0);
    out.push_back(0);
    return proto::append_socks_address(out, address);
}

}  // namespace anytls::inbound
