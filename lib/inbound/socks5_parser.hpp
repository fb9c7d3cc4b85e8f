// SOCKS5 messages of the local entry point (`anytls socks`), parsed and built without I/O.
//
// RFC 1928 (SOCKS Protocol Version 5) and RFC 1929 (Username/Password Authentication):
//
//   greeting        VER=5 | NMETHODS (1..255) | METHODS            (RFC 1928 section 3)
//   method choice   VER=5 | METHOD                                 (0x00 none, 0x02 user/pass, 0xFF none acceptable)
//   user/password   VER=1 | ULEN (1..255) | UNAME | PLEN (0..255) | PASSWD   (RFC 1929 section 2)
//   its answer      VER=1 | STATUS (0 success)
//   request         VER=5 | CMD | RSV | ATYP | DST.ADDR | DST.PORT (RFC 1928 section 4)
//   reply           VER=5 | REP | RSV=0 | ATYP | BND.ADDR | BND.PORT (section 6)
//   UDP datagram    RSV (2) | FRAG | ATYP | DST.ADDR | DST.PORT | DATA (section 7)
//
// Addresses use the same encoding as the AnyTLS stream target (proto/socks_address.hpp), so
// a request's address goes to the pool as it came. Every parser takes the bytes received so
// far and answers need_more (a strict prefix of a valid message), done (with the bytes it
// consumed), or errc::protocol with a sentence naming what is wrong. A PLEN of 0 is accepted
// (RFC 1929 says 1..255, but an empty password is a plain mismatch, not a framing error).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "proto/socks_address.hpp"

namespace anytls::inbound {

inline constexpr std::uint8_t socks5_version = 0x05;
inline constexpr std::uint8_t socks5_user_password_version = 0x01;

// Authentication methods (RFC 1928 section 3).
inline constexpr std::uint8_t socks5_method_none = 0x00;
inline constexpr std::uint8_t socks5_method_user_password = 0x02;
inline constexpr std::uint8_t socks5_method_unacceptable = 0xFF;

// Commands (section 4).
enum class Socks5Command : std::uint8_t { connect = 0x01, bind = 0x02, udp_associate = 0x03 };

// Reply codes (section 6).
namespace socks5_reply {
inline constexpr std::uint8_t succeeded = 0x00;
inline constexpr std::uint8_t general_failure = 0x01;
inline constexpr std::uint8_t not_allowed = 0x02;
inline constexpr std::uint8_t network_unreachable = 0x03;
inline constexpr std::uint8_t host_unreachable = 0x04;
inline constexpr std::uint8_t connection_refused = 0x05;
inline constexpr std::uint8_t ttl_expired = 0x06;
inline constexpr std::uint8_t command_not_supported = 0x07;
inline constexpr std::uint8_t address_type_not_supported = 0x08;
}  // namespace socks5_reply

enum class ParseStatus { need_more, done };

struct Socks5Greeting {
    std::vector<std::uint8_t> methods;
};
struct Socks5GreetingParse {
    ParseStatus status = ParseStatus::need_more;
    Socks5Greeting greeting;
    std::size_t consumed = 0;
};
Result<Socks5GreetingParse> parse_socks5_greeting(std::span<const std::uint8_t> input);

// The method the server picks: user/password when credentials are required and offered,
// "none" when they are not required and offered, 0xFF otherwise.
std::uint8_t choose_socks5_method(const Socks5Greeting& greeting, bool require_user_password);

struct Socks5Credentials {
    std::string username;
    std::string password;
};
struct Socks5CredentialsParse {
    ParseStatus status = ParseStatus::need_more;
    Socks5Credentials credentials;
    std::size_t consumed = 0;
};
Result<Socks5CredentialsParse> parse_socks5_user_password(std::span<const std::uint8_t> input);

// Compares in time that depends on the lengths only, not on where the first difference is.
bool credentials_match(const Socks5Credentials& given, const Socks5Credentials& expected);

struct Socks5Request {
    std::uint8_t command = 0;  // a Socks5Command value, or another byte the caller refuses
    proto::SocksAddress address;
};
struct Socks5RequestParse {
    ParseStatus status = ParseStatus::need_more;
    Socks5Request request;
    std::size_t consumed = 0;
};
// errc::protocol for a wrong version or an unknown address type (the caller answers 0x08
// for the latter: `unsupported_address_type` tells which).
Result<Socks5RequestParse> parse_socks5_request(std::span<const std::uint8_t> input,
                                                bool* unsupported_address_type = nullptr);

// The reply to a request; `bound` is BND.ADDR/BND.PORT (0.0.0.0:0 when there is none).
std::vector<std::uint8_t> socks5_reply_message(std::uint8_t reply,
                                               const proto::SocksAddress& bound);
// The reply for a failed request: 0.0.0.0:0 as the bound address.
std::vector<std::uint8_t> socks5_failure_reply(std::uint8_t reply);

// One SOCKS5 UDP request datagram, taken whole (datagrams are never cut).
struct Socks5UdpDatagram {
    std::uint8_t fragment = 0;
    proto::SocksAddress address;
    std::size_t header_size = 0;  // the payload starts here
};
Result<Socks5UdpDatagram> parse_socks5_udp_datagram(std::span<const std::uint8_t> datagram);
// Appends RSV, FRAG=0 and the address: the header of a reply datagram.
Result<void> append_socks5_udp_header(std::vector<std::uint8_t>& out,
                                      const proto::SocksAddress& address);

}  // namespace anytls::inbound
