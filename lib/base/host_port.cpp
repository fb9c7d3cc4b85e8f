// The host:port parser (see host_port.hpp).
#include "base/host_port.hpp"

#include "base/errors.hpp"

namespace anytls {

namespace {

Error bad(std::string message) { return make_error(errc::invalid_argument, std::move(message)); }

Result<std::uint16_t> parse_port(std::string_view text, bool allow_zero) {
    const char* range = allow_zero ? "from 0 to 65535" : "from 1 to 65535";
    const auto refuse = [&] {
        return bad("the port must be a number " + std::string(range) + ", got \"" +
                   std::string(text) + "\"");
    };
    if (text.empty() || text.size() > 5) return refuse();
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return refuse();
        value = value * 10 + static_cast<unsigned>(c - '0');
    }
    if (value > 65535 || (value == 0 && !allow_zero)) return refuse();
    return static_cast<std::uint16_t>(value);
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view text, HostPortRules rules) {
    HostPort out;
    std::string_view port_text;
    bool port_given = false;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) return bad("the IPv6 host is missing its closing ']'");
        out.host = std::string(text.substr(1, close - 1));
        out.bracketed = true;
        const std::string_view after = text.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':')
                return bad("expected ':PORT' after the IPv6 host, got \"" + std::string(after) +
                           "\"");
            port_text = after.substr(1);
            port_given = true;
        }
    } else {
        const auto colon = text.find(':');
        if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos)
            return bad("an IPv6 host must be written in brackets, e.g. [::1]:443");
        out.host = std::string(text.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = text.substr(colon + 1);
            port_given = true;
        }
    }
    if (out.host.empty()) return bad("the host is missing in \"" + std::string(text) + "\"");
    if (!port_given) {
        if (rules.port_required)
            return bad("no port in \"" + std::string(text) + "\" (expected host:port)");
        out.port = rules.default_port;
        return out;
    }
    auto port = parse_port(port_text, rules.allow_port_zero);
    if (!port) return std::move(port).error();
    out.port = *port;
    out.has_port = true;
    return out;
}

}  // namespace anytls
