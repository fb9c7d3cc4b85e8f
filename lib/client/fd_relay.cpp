// The socket-pair relay of fd streams (see fd_relay.hpp).
#include "client/fd_relay.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/errors.hpp"
#include "base/page_buffer.hpp"
#include "client/fd_stream_errors.hpp"
#include "io/tcp.hpp"

namespace anytls::client {

namespace {

// The longest a relay waits for the caller to take bytes from its end before giving up.
constexpr auto kCallerWriteTimeout = std::chrono::seconds(60);

struct FdRelay {
    std::shared_ptr<PooledStream> stream;
    io::Socket socket;       // the library's end
    ino_t caller_inode = 0;  // the caller's end, under which an end error is recorded
    io::CancellationSource* cancel = nullptr;  // the scope's: its owner shuts down
    int finished = 0;
};

io::Task<void> finish_relay(std::shared_ptr<FdRelay> relay) {
    if (++relay->finished < 2) {
        // The first direction to end: wake the other one.
        relay->socket.shutdown(SHUT_RDWR);
        (void)co_await relay->stream->close();
        co_return;
    }
    relay->socket.close();
}

io::Task<void> relay_fd_to_stream(io::Reactor* r, std::shared_ptr<FdRelay> relay) {
    PageBuffer pages(64 * 1024);
    const std::span<std::byte> buffer = pages.span();
    for (;;) {
        auto receive = io::recv(*r, relay->socket.fd(), buffer.data(), buffer.size(), io::Duration::zero(),
                                relay->cancel);
        auto n = co_await receive;
        if (!n || *n == 0) break;
        auto w = co_await relay->stream->write(std::span<const std::byte>(buffer.data(), *n), kCallerWriteTimeout);
        if (!w) {
            // Recorded before finish_relay shuts the socket down: the caller may read its end
            // at once and ask why.
            if (w.code() != errc::closed) record_fd_stream_error(relay->caller_inode, w.error());
            break;
        }
    }
    co_await finish_relay(relay);
}

io::Task<void> relay_stream_to_fd(io::Reactor* r, std::shared_ptr<FdRelay> relay) {
    PageBuffer pages(64 * 1024);
    const std::span<std::byte> buffer = pages.span();
    for (;;) {
        auto n = co_await relay->stream->read(buffer, io::Duration::zero());
        if (!n && n.code() != errc::closed) record_fd_stream_error(relay->caller_inode, n.error());
        if (!n || *n == 0) break;
        auto sent = co_await io::send_all(*r, relay->socket.fd(), std::span<const std::byte>(buffer.data(), *n),
                                          kCallerWriteTimeout, relay->cancel);
        if (!sent) break;
    }
    relay->socket.shutdown(SHUT_WR);
    co_await finish_relay(relay);
}

}  // namespace

Result<int> hand_over_to_fd(io::Reactor& reactor, io::TaskScope& scope, std::shared_ptr<PooledStream> stream) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
        int err = errno;
        stream->abort();
        return make_error(-err, std::string("socketpair: ") + std::strerror(err));
    }
    auto relay = std::make_shared<FdRelay>();
    relay->stream = std::move(stream);
    relay->socket = io::Socket(pair[1]);
    relay->caller_inode = socket_inode(pair[0]);
    relay->cancel = &scope.cancellation();
    scope.spawn(relay_fd_to_stream(&reactor, relay));
    scope.spawn(relay_stream_to_fd(&reactor, relay));
    return pair[0];
}

}  // namespace anytls::client
