// The classification of stream open failures (see open_failure.hpp).
#include "client/open_failure.hpp"

#include <fmt/format.h>

#include <cerrno>

#include "base/ascii.hpp"
#include "base/error_kind.hpp"
#include "base/errors.hpp"

namespace anytls::client {

namespace {

bool says(const std::string& lowercase_text, std::string_view what) {
    return lowercase_text.find(what) != std::string::npos;
}

// The server's SYNACK text, in the words of the dialers that write it (Linux strerror, Go's
// net package).
OpenFailure classify_target_text(const std::string& text) {
    const std::string lower = ascii_lowercase(text);
    if (says(lower, "refused")) return OpenFailure::target_refused;
    if (says(lower, "network is unreachable")) return OpenFailure::target_network_unreachable;
    if (says(lower, "timed out") || says(lower, "timeout")) return OpenFailure::target_timeout;
    return OpenFailure::target_unreachable;
}

}  // namespace

OpenFailure classify_open_failure(const Error& error) {
    switch (error_kind(error.code)) {
        case ErrorKind::target_refused:
            return classify_target_text(error.text());
        case ErrorKind::auth:
            return OpenFailure::proxy_auth;
        case ErrorKind::alert:
            return OpenFailure::proxy_alert;
        case ErrorKind::tls:
        case ErrorKind::tls_verify:
        case ErrorKind::config:
            return OpenFailure::proxy_tls;  // errc::tls_config: a CA file
        case ErrorKind::timeout:
            return OpenFailure::proxy_timeout;
        case ErrorKind::unreachable:
            return OpenFailure::proxy_unreachable;
        default:
            return OpenFailure::proxy_failed;
    }
}

bool is_target_failure(OpenFailure failure) {
    switch (failure) {
        case OpenFailure::target_refused:
        case OpenFailure::target_network_unreachable:
        case OpenFailure::target_timeout:
        case OpenFailure::target_unreachable:
            return true;
        default:
            return false;
    }
}

std::string describe_open_failure(const Error& error, const ProxyLabel& proxy,
                                  std::string_view target) {
    const OpenFailure failure = classify_open_failure(error);
    const std::string text = error.text();
    if (is_target_failure(failure))
        return fmt::format("cannot reach {}: proxy \"{}\" reports: {}", target, proxy.name, text);
    std::string_view what;
    switch (failure) {
        case OpenFailure::proxy_unreachable:
            what = " unreachable";
            break;
        case OpenFailure::proxy_tls:
            what = ": TLS failed";
            break;
        case OpenFailure::proxy_auth:
            what = ": authentication failed";
            break;
        case OpenFailure::proxy_alert:
            what = " closed the session with an Alert";
            break;
        case OpenFailure::proxy_timeout:
            what = " did not answer in time";
            break;
        default:
            what = " failed";
            break;
    }
    return fmt::format("proxy \"{}\" ({}){}: {}", proxy.name, proxy.address, what, text);
}

}  // namespace anytls::client
