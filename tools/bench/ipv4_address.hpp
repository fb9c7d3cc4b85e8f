// The numeric IPv4 host:port that the bench programs take on their command lines, parsed in
// one place (the load generator and the delay relay report a bad one each their own way).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>
#include <optional>
#include <string>

namespace anytls::bench {

// "127.0.0.1:8080" -> the address; std::nullopt with *why set otherwise.
inline std::optional<sockaddr_in> parse_ipv4_address(const std::string& text, std::string* why) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
        *why = "address \"" + text + "\" is not host:port";
        return std::nullopt;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    char* end = nullptr;
    long port = std::strtol(text.c_str() + colon + 1, &end, 10);
    if (colon + 1 == text.size() || *end != '\0' || port < 0 || port > 65535) {
        *why = "address \"" + text + "\" has a bad port";
        return std::nullopt;
    }
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, text.substr(0, colon).c_str(), &a.sin_addr) != 1) {
        *why = "address \"" + text + "\" is not a numeric IPv4 host:port";
        return std::nullopt;
    }
    return a;
}

}  // namespace anytls::bench
