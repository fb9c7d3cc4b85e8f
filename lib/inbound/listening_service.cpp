// A listening service's start and shutdown (see listening_service.hpp).
#include "inbound/listening_service.hpp"

#include <sys/socket.h>

namespace anytls::inbound {

Result<io::SocketAddress> ListeningService::listen(const io::SocketAddress& at,
                                                   io::Task<void> accept_loop) {
    auto bound = io::TcpListener::listen(at);
    if (!bound) return std::move(bound).error();
    listener = std::move(bound).value();
    scope->spawn(std::move(accept_loop));
    return listener.address();
}

void ListeningService::stop() {
    if (stopping) return;
    stopping = true;
    scope->cancel();
    for (int fd : open_connections) ::shutdown(fd, SHUT_RDWR);
}

io::Task<void> ListeningService::shutdown() {
    stop();
    co_await scope->join();
}

}  // namespace anytls::inbound
