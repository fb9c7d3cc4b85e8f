// The socket-pair relay of fd streams (see fd_relay.hpp), on the shared io::relay
// (docs/DESIGN.md, "Relays").
#include "client/fd_relay.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/errors.hpp"
#include "client/fd_stream_errors.hpp"
#include "io/relay.hpp"
#include "io/tcp.hpp"

namespace anytls::client {

namespace {

// The longest a relay waits for the caller to take bytes from its end before giving up.
constexpr auto kCallerWriteTimeout = std::chrono::seconds(60);

// The library's end of the pair (a) relayed to the stream (b) by io::relay.
struct FdRelay {
    std::shared_ptr<PooledStream> stream;
    io::Socket socket;  // the library's end
    io::SocketEndpoint socket_end;
    ino_t caller_inode = 0;  // the caller's end, under which an end error is recorded
    io::Reactor* reactor = nullptr;
    int finished = 0;

    io::SocketEndpoint& a() { return socket_end; }
    PooledStream& b() { return *stream; }

    io::RelayDirectionOptions options(io::RelayDirection) const {
        io::RelayDirectionOptions options;
        options.reactor = reactor;
        options.write_timeout = kCallerWriteTimeout;
        return options;
    }

    io::Task<void> direction_ended(io::RelayDirection direction, io::RelayEnd end) {
        // Recorded before the socket is shut down: the caller may read its end at once and
        // ask why.
        const bool failed = end.kind == io::RelayEnd::Kind::read_failed ||
                            end.kind == io::RelayEnd::Kind::write_failed;
        const bool stream_failed = direction == io::RelayDirection::a_to_b
                                       ? end.kind == io::RelayEnd::Kind::write_failed
                                       : end.kind == io::RelayEnd::Kind::read_failed;
        if (failed && stream_failed && end.error.code != errc::closed)
            record_fd_stream_error(caller_inode, end.error);
        // The stream ended: the caller gets its FIN after the last byte.
        if (direction == io::RelayDirection::b_to_a) socket.shutdown(SHUT_WR);
        if (++finished < 2) {
            // The first direction to end: wake the other one.
            socket.shutdown(SHUT_RDWR);
            (void)co_await stream->close();
        }
    }

    io::Task<void> both_ended() {
        socket.close();
        co_return;
    }
};

}  // namespace

Result<int> hand_over_to_fd(io::Reactor& reactor, io::TaskScope& scope,
                            std::shared_ptr<PooledStream> stream) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
        int err = errno;
        stream->abort();
        return make_error(-err, std::string("socketpair: ") + std::strerror(err));
    }
    auto relay = std::make_shared<FdRelay>();
    relay->stream = std::move(stream);
    relay->socket = io::Socket(pair[1]);
    relay->socket_end = io::SocketEndpoint{&reactor, pair[1], &scope.cancellation()};
    relay->caller_inode = socket_inode(pair[0]);
    relay->reactor = &reactor;
    scope.spawn(io::relay(scope, std::move(relay)));
    return pair[0];
}

}  // namespace anytls::client
