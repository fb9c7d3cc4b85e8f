// "host:port" text: the one parser of it, and its formatting for messages.
//
// Accepted: "host:port", "[v6]:port", and where the port may be left out, "host" and "[v6]".
// An IPv6 literal must be in brackets (an unbracketed host with a colon is refused, since its
// port could not be told from its address). The host is returned without brackets and is not
// otherwise checked: callers know whether it must be numeric, a name, or either. Errors are
// errc::invalid_argument with a message about the text alone; callers add the key or option.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace anytls {

struct HostPort {
    std::string host;        // without brackets
    std::uint16_t port = 0;  // the default port when the text had none
    bool has_port = false;
    bool bracketed = false;  // the host was written "[...]"
};

struct HostPortRules {
    bool port_required = true;
    std::uint16_t default_port = 0;  // when the port is optional and left out
    bool allow_port_zero = false;    // a listen address: 0 picks a free port
};

Result<HostPort> parse_host_port(std::string_view text, HostPortRules rules = {});

// "[::1]:8443" for an IPv6 host, "example.com:443" otherwise.
inline std::string format_host_port(std::string_view host, std::uint16_t port) {
    const bool v6 = host.find(':') != std::string_view::npos;
    std::string out;
    out.reserve(host.size() + 8);
    if (v6) out += '[';
    out += host;
    if (v6) out += ']';
    out += ':';
    out += std::to_string(port);
    return out;
}

}  // namespace anytls
