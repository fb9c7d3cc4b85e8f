// The table of error kinds (see error_kind.hpp).
#include "base/error_kind.hpp"

#include <cerrno>

#include "base/errors.hpp"

namespace anytls {

ErrorKind error_kind(int code) {
    if (code >= 0) return ErrorKind::ok;
    switch (code) {
        case errc::invalid_argument:
        case -EINVAL:
            return ErrorKind::invalid_argument;
        case errc::config:
        case errc::tls_config:
            return ErrorKind::config;
        case errc::closed:
        case -ECONNRESET:
        case -ECONNABORTED:
        case -EPIPE:
            return ErrorKind::closed;
        case -ECANCELED:
            return ErrorKind::cancelled;
        case -ETIMEDOUT:
            return ErrorKind::timeout;
        case -ECONNREFUSED:
        case -EHOSTUNREACH:  // also a server name that does not resolve (io::resolve)
        case -ENETUNREACH:
        case -ENETDOWN:
        case -EHOSTDOWN:
        case -EADDRNOTAVAIL:
        case -EAFNOSUPPORT:
            return ErrorKind::unreachable;
        case errc::tls_handshake_failed:
        case errc::tls_protocol:
            return ErrorKind::tls;
        case errc::tls_hostname_mismatch:
        case errc::tls_unknown_ca:
        case errc::tls_cert_expired:
        case errc::tls_cert_not_yet_valid:
            return ErrorKind::tls_verify;
        case errc::auth_failed:
            return ErrorKind::auth;
        case errc::server_alert:
            return ErrorKind::alert;
        case errc::target_refused:
            return ErrorKind::target_refused;
        case errc::protocol:
            return ErrorKind::protocol;
        case -ENOMEM:
        case -ENOBUFS:
            return ErrorKind::no_memory;
        default:
            break;
    }
    return code > -4096 ? ErrorKind::io : ErrorKind::internal;
}

}  // namespace anytls
