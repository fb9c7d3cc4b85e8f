// "host:port" for messages, with an IPv6 literal in brackets ("[::1]:8443"), whether the host
// is a name or an address.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace anytls {

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
