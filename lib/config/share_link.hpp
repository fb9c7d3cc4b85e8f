// Share links: one AnyTLS node as one line of text, the way users pass nodes around.
//
//   anytls://PASSWORD@HOST[:PORT]/?sni=NAME&insecure=0|1&alpn=A,B&fp=NAME&hpkp=HEX#DISPLAY-NAME
//
// The scheme is the one the protocol's reference implementation documents (docs/uri_scheme.md
// there, modelled on Hysteria2's): the password is the URI's user-info, percent-encoded when it
// holds special characters; the port defaults to 443; an IPv6 host is written in brackets;
// `sni` sets the TLS server name and `insecure=1` skips certificate verification; the fragment
// is the node's display name. What this parser decides where that text is silent:
//   - the whole user-info, decoded, is the password (an unencoded ':' is part of it);
//   - the path may be empty or "/"; anything else is an error;
//   - what subscription converters add is read too: `allowInsecure` (an alias of insecure; the
//     two must agree when both are given), `alpn` (comma-separated), `fp` (mihomo's
//     client-fingerprint) and `hpkp` (mihomo's converter puts it in `fingerprint`, the pin of
//     the server certificate); the values are kept as given, and the loader checks them as it
//     checks the keys they stand for;
//   - other query keys are errors (as unknown keys are in the TOML file), a key given twice is
//     an error, insecure and allowInsecure take 0 or 1 only;
//   - surrounding whitespace is ignored; spaces or control characters inside are errors;
//   - a percent-escape must be '%' and two hex digits, and may not decode to a NUL byte.
//
// Pure: text in, a ShareLink or an error (errc::config) out. The error says which part is
// wrong ("share link: the port must be a number from 1 to 65535, got \"0\"") and never
// repeats the password.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace anytls::config {

inline constexpr std::string_view kShareLinkScheme = "anytls://";
inline constexpr std::uint16_t kShareLinkDefaultPort = 443;

struct ShareLink {
    std::string password;  // decoded; secret
    std::string host;      // a name, an IPv4 literal, or an IPv6 literal without brackets
    std::uint16_t port = kShareLinkDefaultPort;
    std::string sni;  // empty: not given
    bool insecure = false;
    std::vector<std::string> alpn;   // empty: not given
    std::string client_fingerprint;  // `fp`; empty: not given
    std::string fingerprint;         // `hpkp`, as given; empty: not given
    std::string name;                // the decoded fragment; empty: not given

    bool operator==(const ShareLink&) const = default;
};

Result<ShareLink> parse_share_link(std::string_view text);

// The canonical text of a link (parse_share_link of it gives the link back): every byte of the
// password, sni, alpn, fp, hpkp and name outside the unreserved set is percent-encoded (the
// commas between ALPN names apart); each part appears only when it differs from its default,
// and allowInsecure is written as insecure.
std::string format_share_link(const ShareLink& link);

}  // namespace anytls::config
