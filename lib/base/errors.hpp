// The anytls error codes that are not errno values. They live below -10000 so they never
// collide with -errno. The C ABI (capi/) maps these and errno codes to its pinned public enum.
#pragma once

namespace anytls::errc {

// TLS (lib/tls)
inline constexpr int tls_handshake_failed = -10001;   // generic handshake failure
inline constexpr int tls_hostname_mismatch = -10002;  // certificate does not name the host
inline constexpr int tls_unknown_ca = -10003;         // chain does not end at a trusted CA
inline constexpr int tls_cert_expired = -10004;       // certificate past notAfter
inline constexpr int tls_cert_not_yet_valid = -10005;
inline constexpr int tls_protocol = -10006;  // bad record, alert, decrypt failure
inline constexpr int tls_config = -10007;    // bad CA file, key, certificate

// Streams and sessions
inline constexpr int closed = -10100;          // the peer closed; no more data (EOF)
inline constexpr int protocol = -10101;        // AnyTLS protocol violation
inline constexpr int target_refused = -10102;  // the server's SYNACK carried an error
inline constexpr int auth_failed = -10103;
inline constexpr int server_alert = -10104;  // the server ended the session with an Alert frame

// Input
inline constexpr int invalid_argument = -10200;
inline constexpr int config = -10201;

}  // namespace anytls::errc
