// What kind of failure an internal error code is (negative errno or errc::*, base/errors.hpp):
// the one table from codes to outcomes. The C ABI's public codes (and through them Python's
// exceptions and Go's Codes), the CLI's exit codes and the SOCKS / HTTP entry's answers
// (client/open_failure.hpp) all derive from it, so a failure reads the same everywhere.
#pragma once

namespace anytls {

enum class ErrorKind {
    ok,
    invalid_argument,  // errc::invalid_argument, EINVAL
    config,            // errc::config, errc::tls_config (a CA file, key or certificate)
    closed,            // errc::closed; the peer reset or dropped the connection
    cancelled,         // ECANCELED: the caller (or a shutdown) cancelled the wait
    timeout,           // ETIMEDOUT
    unreachable,       // no TCP connection to the server: refused, no route, name not resolved
    tls,               // TLS handshake or record failure
    tls_verify,        // the certificate did not verify: unknown CA, name, dates
    auth,              // errc::auth_failed: the server closed the session after authentication
    alert,             // errc::server_alert: the server ended the session with an Alert frame
    target_refused,    // errc::target_refused: the server could not reach the target
    protocol,          // errc::protocol: an AnyTLS protocol violation by the peer
    no_memory,         // ENOMEM, ENOBUFS
    io,                // any other errno
    internal,          // a code nothing knows: a bug
};

ErrorKind error_kind(int code);

}  // namespace anytls
