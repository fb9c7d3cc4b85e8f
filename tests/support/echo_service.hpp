// A TCP echo target on the reactor, for tests that need something behind the proxy.
#pragma once

#include <chrono>
#include <vector>

#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/tcp.hpp"

namespace anytls::test {

// Echoes everything until the peer closes.
inline io::Task<void> echo_connection(io::Reactor* r, io::Socket socket) {
    std::vector<std::byte> buffer(64 * 1024);
    for (;;) {
        auto receive = io::recv(*r, socket.fd(), buffer.data(), buffer.size());
        auto n = co_await receive;
        if (!n || *n == 0) break;
        auto sent =
            co_await io::send_all(*r, socket.fd(), std::span<const std::byte>(buffer.data(), *n),
                                  std::chrono::seconds(10));
        if (!sent) break;
    }
}

// Accepts until the listener closes (or `cancel` fires) and echoes each connection.
inline io::Task<void> echo_accept_loop(io::Reactor* r, io::TcpListener* listener,
                                       io::CancellationSource* cancel = nullptr) {
    for (;;) {
        auto accept = listener->accept(*r, cancel);
        auto s = co_await accept;
        if (!s) break;
        r->spawn(echo_connection(r, std::move(s).value()));
    }
}

}  // namespace anytls::test
