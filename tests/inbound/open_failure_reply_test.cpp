// Tests of how a failed stream open is answered (lib/client/open_failure.hpp and
// socks5_reply_for / http_status_for in lib/inbound/proxy_inbound.hpp; docs/SOCKS.md, "Errors"):
// the errors are the ones SessionPool::open_stream really returns, with their real texts.
#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include "base/error_kind.hpp"
#include "base/errors.hpp"
#include "client/open_failure.hpp"
#include "inbound/proxy_inbound.hpp"

using namespace anytls;
using namespace anytls::inbound;
using client::OpenFailure;

namespace {

const client::ProxyLabel kProxy{"local", "127.0.0.1:8443"};

struct Case {
    Error error;
    OpenFailure failure;
    std::uint8_t socks;
    int http;
};

}  // namespace

TEST_SUITE("open failure replies") {
    TEST_CASE("the proxy's failures are 0x01; the target's are 0x03 to 0x05") {
        const Case cases[] = {
            // io::tcp_connect to the server.
            {make_error(-ECONNREFUSED, "connect to 127.0.0.1:1: Connection refused"),
             OpenFailure::proxy_unreachable, socks5_reply::general_failure, 502},
            {make_error(-EHOSTUNREACH,
                        "cannot resolve 'nowhere.invalid': Name or service not known"),
             OpenFailure::proxy_unreachable, socks5_reply::general_failure, 502},
            {make_error(-ENETUNREACH, "connect to 10.0.0.1:443: Network is unreachable"),
             OpenFailure::proxy_unreachable, socks5_reply::general_failure, 502},
            {make_error(-ETIMEDOUT, "connect to 192.0.2.1:443: timed out"),
             OpenFailure::proxy_timeout, socks5_reply::general_failure, 504},
            {make_error(-ETIMEDOUT, "TLS handshake timed out after 10s"),
             OpenFailure::proxy_timeout, socks5_reply::general_failure, 504},
            // TLS (lib/tls/tls_connection.cpp).
            {make_error(errc::tls_unknown_ca,
                        "TLS: certificate signed by an unknown CA (ASN no signer error)"),
             OpenFailure::proxy_tls, socks5_reply::general_failure, 502},
            {make_error(errc::tls_handshake_failed, "TLS handshake failed"), OpenFailure::proxy_tls,
             socks5_reply::general_failure, 502},
            // The session (lib/session/client_session.cpp).
            {make_error(errc::auth_failed,
                        "the server closed the session after authentication, before any answer: "
                        "wrong password? (Broken pipe)"),
             OpenFailure::proxy_auth, socks5_reply::general_failure, 502},
            {make_error(errc::server_alert, "alert from server: client did not send its settings"),
             OpenFailure::proxy_alert, socks5_reply::general_failure, 502},
            {make_error(errc::closed, "TLS handshake: the peer closed the connection"),
             OpenFailure::proxy_failed, socks5_reply::general_failure, 502},
            // The text holds "refused" but the code says the proxy: not the target's refusal.
            {make_error(-ECONNRESET, "TLS handshake: connection reset by peer (refused?)"),
             OpenFailure::proxy_failed, socks5_reply::general_failure, 502},
            // SYNACK texts: ours (strerror) and the Go reference's (net.Dial).
            {make_error(errc::target_refused, "connect to 127.0.0.1:9: Connection refused"),
             OpenFailure::target_refused, socks5_reply::connection_refused, 502},
            {make_error(errc::target_refused, "dial tcp 127.0.0.1:9: connect: connection refused"),
             OpenFailure::target_refused, socks5_reply::connection_refused, 502},
            {make_error(errc::target_refused, "connect to 10.9.9.9:80: Network is unreachable"),
             OpenFailure::target_network_unreachable, socks5_reply::network_unreachable, 502},
            {make_error(errc::target_refused,
                        "cannot resolve 'x.invalid': Name or service not known"),
             OpenFailure::target_unreachable, socks5_reply::host_unreachable, 502},
            {make_error(errc::target_refused, "dial tcp 192.0.2.1:80: i/o timeout"),
             OpenFailure::target_timeout, socks5_reply::host_unreachable, 504},
            {make_error(errc::target_refused, "connect to 192.0.2.1:80: timed out"),
             OpenFailure::target_timeout, socks5_reply::host_unreachable, 504},
            {make_error(errc::target_refused, "dial tcp: lookup x.invalid: no such host"),
             OpenFailure::target_unreachable, socks5_reply::host_unreachable, 502},
        };
        for (const Case& c : cases) {
            CAPTURE(c.error.text());
            CHECK(client::classify_open_failure(c.error) == c.failure);
            CHECK(socks5_reply_for(c.error) == c.socks);
            CHECK(http_status_for(c.error) == c.http);
        }
    }

    TEST_CASE("the message names the proxy when the proxy failed") {
        CHECK(client::describe_open_failure(
                  make_error(-ECONNREFUSED, "connect to 127.0.0.1:8443: Connection refused"),
                  kProxy, "example.com:443") ==
              "proxy \"local\" (127.0.0.1:8443) unreachable: connect to 127.0.0.1:8443: Connection "
              "refused");
        CHECK(client::describe_open_failure(make_error(errc::tls_unknown_ca, "TLS: unknown CA"),
                                            kProxy, "example.com:443") ==
              "proxy \"local\" (127.0.0.1:8443): TLS failed: TLS: unknown CA");
        CHECK(client::describe_open_failure(make_error(errc::auth_failed, "wrong password?"),
                                            kProxy, "example.com:443") ==
              "proxy \"local\" (127.0.0.1:8443): authentication failed: wrong password?");
        CHECK(client::describe_open_failure(
                  make_error(errc::server_alert, "alert from server: go away"), kProxy,
                  "example.com:443") ==
              "proxy \"local\" (127.0.0.1:8443) closed the session with an Alert: alert from "
              "server: go away");
        CHECK(client::describe_open_failure(
                  make_error(-ETIMEDOUT, "TLS handshake timed out after 10s"), kProxy,
                  "example.com:443") ==
              "proxy \"local\" (127.0.0.1:8443) did not answer in time: TLS handshake timed out "
              "after 10s");
        CHECK(client::describe_open_failure(make_error(errc::protocol, "bad frame"), kProxy,
                                            "example.com:443") ==
              "proxy \"local\" (127.0.0.1:8443) failed: bad frame");
    }

    TEST_CASE("the message names the target when the server reports the target failed") {
        CHECK(client::describe_open_failure(
                  make_error(errc::target_refused, "connect to 10.0.0.1:80: Connection refused"),
                  kProxy, "10.0.0.1:80") ==
              "cannot reach 10.0.0.1:80: proxy \"local\" reports: connect to 10.0.0.1:80: "
              "Connection refused");
    }

}  // TEST_SUITE

TEST_CASE("error kinds: the one table, and the open failures that follow it") {
    using anytls::ErrorKind;
    CHECK(error_kind(0) == ErrorKind::ok);
    CHECK(error_kind(-EADDRNOTAVAIL) == ErrorKind::unreachable);
    CHECK(error_kind(-ECANCELED) == ErrorKind::cancelled);
    CHECK(error_kind(-ECONNRESET) == ErrorKind::closed);
    CHECK(error_kind(errc::tls_unknown_ca) == ErrorKind::tls_verify);
    CHECK(error_kind(errc::server_alert) == ErrorKind::alert);
    CHECK(error_kind(-EACCES) == ErrorKind::io);
    CHECK(error_kind(-10999) == ErrorKind::internal);
    // Before the table, the entry called an unusable local address a failure of the session
    // ("proxy failed") where the C ABI called it CONNECT.
    CHECK(client::classify_open_failure(
              make_error(-EADDRNOTAVAIL, "connect: Cannot assign requested address")) ==
          OpenFailure::proxy_unreachable);
    CHECK(client::classify_open_failure(make_error(-ECANCELED, "the open was cancelled")) ==
          OpenFailure::proxy_failed);
}
