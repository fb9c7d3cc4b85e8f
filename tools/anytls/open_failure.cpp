// Open failures as sentences with their exit codes (see open_failure.hpp).
#include "open_failure.hpp"

#include <fmt/format.h>

#include <cerrno>

#include "base/errors.hpp"
#include "client_config.hpp"

namespace anytls::cli {

Error explain_open_failure(const Error& error, const config::ProxyConfig& proxy,
                           const std::string& target, std::string_view timeout) {
    const std::string server = server_address(proxy);
    const std::string detail = error.text();
    switch (error.code) {
        case errc::tls_unknown_ca:
            return make_error(
                error.code,
                fmt::format(
                    "TLS verification failed: the certificate of {} is not signed by a trusted "
                    "CA ({}); set ca-file to the server's CA, or skip-cert-verify / insecure=1 "
                    "for a test server",
                    server, detail));
        case errc::tls_hostname_mismatch:
            return make_error(
                error.code,
                fmt::format(
                    "TLS verification failed: the certificate of {} does not name \"{}\" ({}); "
                    "set sni to a name the certificate holds",
                    server, proxy.sni.empty() ? proxy.server : proxy.sni, detail));
        case errc::tls_cert_expired:
        case errc::tls_cert_not_yet_valid:
            return make_error(
                error.code,
                fmt::format("TLS verification failed: the certificate of {} is outside its "
                            "validity period ({}); check the clocks",
                            server, detail));
        case errc::tls_handshake_failed:
        case errc::tls_protocol:
            return make_error(
                error.code,
                fmt::format("the TLS handshake with {} failed ({}); is it an AnyTLS server?",
                            server, detail));
        case errc::tls_config:
            return make_error(errc::config, fmt::format("proxy \"{}\": {}", proxy.name, detail));
        case errc::target_refused:
            return make_error(error.code,
                              fmt::format("the server {} could not connect to the target {} ({})",
                                          server, target, detail));
        case errc::auth_failed:
        case errc::closed:
        case -ECONNRESET:
        case -EPIPE:
            return make_error(
                errc::auth_failed,
                fmt::format(
                    "the server {} closed the session before the stream to {} opened: wrong "
                    "password? (a server closes a session whose authentication fails)",
                    server, target));
        case errc::server_alert:
            return make_error(
                error.code, fmt::format("the server {} closed the session with an Alert before the "
                                        "stream to {} opened ({})",
                                        server, target, detail));
        case -ETIMEDOUT:
            return make_error(error.code,
                              fmt::format("timed out: no stream to {} through {} within {} ({})",
                                          target, server, timeout, detail));
        case -ECONNREFUSED:
            return make_error(
                error.code,
                fmt::format("cannot reach the proxy server {}: connection refused (is it "
                            "running, and is the port right?)",
                            server));
        case -EHOSTUNREACH:
        case -ENETUNREACH:
            return make_error(error.code,
                              fmt::format("cannot reach the proxy server {}: {}", server, detail));
        default:
            return make_error(error.code, fmt::format("cannot open a stream to {} through {}: {}",
                                                      target, server, detail));
    }
}

}  // namespace anytls::cli
