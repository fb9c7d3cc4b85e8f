// A TLS client handshake that trusts the test PKI's CA (test_certs.hpp), for tests that speak
// the AnyTLS protocol by hand over a socket they connected themselves.
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "base/result.hpp"
#include "io/reactor.hpp"
#include "io/tcp.hpp"
#include "support/test_certs.hpp"
#include "tls/tls_connection.hpp"
#include "tls/tls_context.hpp"

namespace anytls::test {

inline io::Task<Result<std::unique_ptr<tls::TlsConnection>>> handshake_trusting_test_ca(
    io::Reactor& reactor, io::Socket socket, std::string server_name) {
    tls::ClientContextOptions options;
    options.ca_file = test_pki().ca_cert;
    auto context = tls::TlsContext::make_client(options);
    if (!context) co_return std::move(context).error();
    tls::ClientHandshakeOptions handshake;
    handshake.server_name = std::move(server_name);
    co_return co_await tls::TlsConnection::connect(reactor, std::move(socket), context.value(),
                                                   handshake);
}

}  // namespace anytls::test
