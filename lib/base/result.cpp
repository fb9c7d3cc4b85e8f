// Error texts for Result (see result.hpp).
#include "base/result.hpp"

#include <cstring>

#include "base/errors.hpp"

namespace anytls {

std::string describe_error(int code) {
    switch (code) {
        case errc::tls_handshake_failed:
            return "TLS handshake failed";
        case errc::tls_hostname_mismatch:
            return "TLS certificate hostname mismatch";
        case errc::tls_unknown_ca:
            return "TLS certificate signed by an unknown CA";
        case errc::tls_cert_expired:
            return "TLS certificate expired";
        case errc::tls_cert_not_yet_valid:
            return "TLS certificate not yet valid";
        case errc::tls_protocol:
            return "TLS protocol error";
        case errc::tls_config:
            return "TLS configuration error";
        case errc::closed:
            return "connection closed by peer";
        case errc::protocol:
            return "AnyTLS protocol error";
        case errc::target_refused:
            return "target refused by server";
        case errc::auth_failed:
            return "authentication failed";
        case errc::server_alert:
            return "the server closed the session with an Alert";
        case errc::invalid_argument:
            return "invalid argument";
        case errc::config:
            return "invalid configuration";
        default:
            break;
    }
    if (code < 0 && code > -4096) return std::strerror(-code);
    return "error " + std::to_string(code);
}

std::string Error::text() const { return message.empty() ? describe_error(code) : message; }

}  // namespace anytls
