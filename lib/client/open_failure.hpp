// Who made a stream open through a pool fail, and how: the one classification of
// SessionPool::open_stream's errors. The SOCKS5 / HTTP entry point takes its reply codes and
// error pages from it (docs/SOCKS.md, "Errors"), the CLI its exit codes (tools/anytls/command.cpp).
//
// A refusal by the target is errc::target_refused, carrying the server's text ("connect to
// 10.0.0.1:80: Connection refused" from ours, "dial tcp ...: connect: connection refused" from
// the Go reference); which target failure it is can only be read from that text. Any other
// error is a failure to reach or use the proxy itself: the TCP connect to the server (errno),
// TLS (errc::tls_*), authentication (errc::auth_failed: the server closed the session at once),
// an Alert frame from the server (errc::server_alert), a timeout, or a session that failed
// otherwise.
#pragma once

#include <string>
#include <string_view>

#include "base/result.hpp"

namespace anytls::client {

enum class OpenFailure {
    proxy_unreachable,  // no TCP connection to the server: refused, no route, name not resolved
    proxy_tls,          // TLS with the server: certificate not verified, handshake failed, bad CA
    proxy_auth,         // the server closed the session right after authentication: wrong password?
    proxy_alert,        // the server closed the session with an Alert (its text says why)
    proxy_timeout,      // the server did not answer in time (connect, TLS, SYNACK)
    proxy_failed,       // the session failed otherwise: closed, reset, protocol error
    target_refused,     // the server reports: the target refused the connection
    target_network_unreachable,  // the server reports: network unreachable
    target_timeout,              // the server reports: the connect to the target timed out
    target_unreachable,          // the server reports: host unreachable, name not resolved, or else
};

OpenFailure classify_open_failure(const Error& error);
bool is_target_failure(OpenFailure failure);

// The proxy an open went through, as messages name it.
struct ProxyLabel {
    std::string_view name;     // "local"
    std::string_view address;  // "127.0.0.1:8443"
};

// One sentence for an error page or a log line. A proxy failure names the proxy, a target
// failure the target (and which proxy said so):
//   proxy "local" (127.0.0.1:1) unreachable: connect to 127.0.0.1:1: Connection refused
//   proxy "local" (127.0.0.1:8443): TLS failed: TLS: certificate signed by an unknown CA (...)
//   cannot reach 127.0.0.1:9: proxy "local" reports: connect to 127.0.0.1:9: Connection refused
std::string describe_open_failure(const Error& error, const ProxyLabel& proxy,
                                  std::string_view target);

}  // namespace anytls::client
