// TCP on the reactor: addresses, sockets, connect with a timeout, listen/accept, and the
// read/write/shutdown primitives everything above (TLS, sessions, the server) is built on.
//
// Every operation here is an awaiter or a Task whose result is a value: the byte count or
// socket on success, an Error with -errno otherwise (-ETIMEDOUT when its timeout fired,
// -ECANCELED when cancelled). Sockets are non-blocking and close-on-exec; writes use
// MSG_NOSIGNAL so a vanished peer is an -EPIPE result, not a SIGPIPE.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "io/cancellation.hpp"
#include "io/operation.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"

namespace anytls::io {

class SocketAddress {
public:
    SocketAddress() = default;
    // A numeric IPv4 or IPv6 literal ("127.0.0.1", "::1", "[::1]"); error otherwise.
    static Result<SocketAddress> parse_numeric(std::string_view host, std::uint16_t port);
    // "host:port" / "[v6]:port", numeric hosts only.
    static Result<SocketAddress> parse_host_port(std::string_view text);
    static SocketAddress loopback_v4(std::uint16_t port);
    static SocketAddress from_sockaddr(const sockaddr* sa, socklen_t len);

    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage_); }
    sockaddr* get_mutable() { return reinterpret_cast<sockaddr*>(&storage_); }
    socklen_t length() const { return length_; }
    socklen_t* length_ptr() { return &length_; }
    int family() const { return storage_.ss_family; }
    std::uint16_t port() const;
    std::string host_string() const;
    std::string to_string() const;  // "127.0.0.1:443", "[::1]:443"

private:
    sockaddr_storage storage_{};
    socklen_t length_ = sizeof(sockaddr_storage);
};

// Owns a file descriptor; closes it on destruction. The owner must make sure no operation
// on the fd is still in flight (shutdown() wakes pending reads) before it goes.
class Socket {
public:
    Socket() = default;
    explicit Socket(int fd) : fd_(fd) {}
    Socket(Socket&& other) noexcept : fd_(other.release()) {}
    Socket& operator=(Socket&& other) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;
    ~Socket() { close(); }

    int fd() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release() {
        int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void close();
    // shutdown(2): SHUT_WR sends a FIN; SHUT_RDWR also wakes this side's pending reads.
    void shutdown(int how = SHUT_RDWR);

    Result<void> set_nodelay(bool on);
    Result<void> set_keepalive(Duration idle);  // zero: off
    Result<SocketAddress> local_address() const;
    Result<SocketAddress> peer_address() const;

private:
    int fd_ = -1;
};

// co_await recv(...): bytes read (0 at end of stream) or an error.
class RecvOperation : public OperationAwaiter {
public:
    RecvOperation(Reactor& r, int fd, void* buffer, std::size_t length, Duration timeout,
                  CancellationSource* cancel)
        : OperationAwaiter(r, &prepare_recv, timeout, cancel),
          fd_(fd),
          buffer_(buffer),
          length_(length) {}
    Result<std::size_t> await_resume() const;

private:
    static void prepare_recv(IoOperation& op, io_uring_sqe* sqe);
    int fd_;
    void* buffer_;
    std::size_t length_;
};

// co_await send(...): bytes written (possibly fewer than asked) or an error.
class SendOperation : public OperationAwaiter {
public:
    SendOperation(Reactor& r, int fd, const void* buffer, std::size_t length, Duration timeout,
                  CancellationSource* cancel)
        : OperationAwaiter(r, &prepare_send, timeout, cancel),
          fd_(fd),
          buffer_(buffer),
          length_(length) {}
    Result<std::size_t> await_resume() const;

private:
    static void prepare_send(IoOperation& op, io_uring_sqe* sqe);
    int fd_;
    const void* buffer_;
    std::size_t length_;
};

inline RecvOperation recv(Reactor& r, int fd, void* buffer, std::size_t length,
                          Duration timeout = Duration{0}, CancellationSource* cancel = nullptr) {
    return RecvOperation(r, fd, buffer, length, timeout, cancel);
}
inline SendOperation send(Reactor& r, int fd, const void* buffer, std::size_t length,
                          Duration timeout = Duration{0}, CancellationSource* cancel = nullptr) {
    return SendOperation(r, fd, buffer, length, timeout, cancel);
}

// Writes all of data; the timeout applies to each send (progress resets it).
Task<Result<void>> send_all(Reactor& r, int fd, std::span<const std::byte> data,
                            Duration timeout = Duration{0}, CancellationSource* cancel = nullptr);
// Reads exactly data.size() bytes; errc::closed if the stream ends first.
Task<Result<void>> recv_exact(Reactor& r, int fd, std::span<std::byte> data,
                              Duration timeout = Duration{0}, CancellationSource* cancel = nullptr);

// Connects to one address. timeout zero: the kernel's own (minutes).
Task<Result<Socket>> tcp_connect(Reactor& r, SocketAddress address, Duration timeout,
                                 CancellationSource* cancel = nullptr);
// Resolves host (numeric literals skip the resolver) and tries each address in turn within
// one overall timeout. Name resolution runs getaddrinfo on a helper thread.
Task<Result<Socket>> tcp_connect(Reactor& r, std::string host, std::uint16_t port, Duration timeout,
                                 CancellationSource* cancel = nullptr);
// Cancelling `cancel` ends the wait at once (getaddrinfo itself cannot be interrupted: its
// helper thread finishes on its own and its answer is dropped).
Task<Result<std::vector<SocketAddress>>> resolve(Reactor& r, std::string host, std::uint16_t port,
                                                 CancellationSource* cancel = nullptr);

class TcpListener {
public:
    static Result<TcpListener> listen(const SocketAddress& address, int backlog = 1024);
    TcpListener() = default;
    TcpListener(TcpListener&&) = default;
    TcpListener& operator=(TcpListener&&) = default;

    const SocketAddress& address() const { return address_; }  // with the bound port
    int fd() const { return socket_.fd(); }
    void close() {
        socket_.shutdown();
        socket_.close();
    }

    class AcceptOperation : public OperationAwaiter {
    public:
        AcceptOperation(Reactor& r, int fd, CancellationSource* cancel)
            : OperationAwaiter(r, &prepare_accept, Duration{0}, cancel), fd_(fd) {}
        Result<Socket> await_resume() const;

    private:
        static void prepare_accept(IoOperation& op, io_uring_sqe* sqe);
        int fd_;
    };
    // co_await listener.accept(reactor): the next connection.
    AcceptOperation accept(Reactor& r, CancellationSource* cancel = nullptr) {
        return AcceptOperation(r, socket_.fd(), cancel);
    }

private:
    Socket socket_;
    SocketAddress address_;
};

}  // namespace anytls::io
