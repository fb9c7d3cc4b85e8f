// UDP on the reactor: a datagram socket and the send/receive awaiters the UDP-over-TCP relay
// (lib/server/udp_relay) and the tests are built on.
//
// Like tcp.hpp, every operation is an awaiter whose result is a value: the byte count (and,
// for receives, the sender's address) on success, an Error with -errno otherwise
// (-ETIMEDOUT when its timeout fired, -ECANCELED when cancelled). Datagrams go through
// io_uring's SENDMSG / RECVMSG so one request carries both the payload and the peer address;
// the msghdr, iovec and address live inside the awaiter, which stays put until the completion
// arrives (operation.hpp). Sockets are non-blocking and close-on-exec; sends use MSG_NOSIGNAL.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>

#include "base/result.hpp"
#include "io/cancellation.hpp"
#include "io/operation.hpp"
#include "io/reactor.hpp"
#include "io/tcp.hpp"

namespace anytls::io {

// The largest UDP payload (65535 minus the 8-byte UDP header minus a 20-byte IPv4 header;
// IPv6 allows 65527, but one buffer size for both keeps things simple and the uot length
// field is 16 bits anyway).
inline constexpr std::size_t max_udp_payload = 65535;

// A bound UDP socket. Move-only; closes its fd on destruction. As with Socket, the owner must
// make sure no operation on it is in flight when it goes (cancel, then wait for completion).
class UdpSocket {
public:
    // Binds to `local` (port 0 picks one). An IPv6 wildcard ("::") is made dual-stack
    // (IPV6_V6ONLY off) so it can also reach IPv4 peers as ::ffff:a.b.c.d.
    static Result<UdpSocket> bind(const SocketAddress& local);
    // A dual-stack socket on [::]:0, or 0.0.0.0:0 when the host has no IPv6.
    static Result<UdpSocket> bind_any();

    UdpSocket() = default;
    UdpSocket(UdpSocket&&) noexcept = default;
    UdpSocket& operator=(UdpSocket&&) noexcept = default;

    int fd() const { return socket_.fd(); }
    bool valid() const { return socket_.valid(); }
    int family() const { return family_; }
    void close() { socket_.close(); }
    // The bound address (with the real port).
    Result<SocketAddress> local_address() const { return socket_.local_address(); }
    // connect(2) for UDP: fixes the default destination and makes the kernel drop datagrams
    // from anyone else. Immediate (no I/O), so not an awaiter.
    Result<void> connect(const SocketAddress& peer);
    // `address` in a form this socket can send to: IPv4 is mapped to ::ffff:a.b.c.d on an
    // IPv6 socket, and ::ffff:a.b.c.d is unmapped on an IPv4 one. Error if it cannot be.
    Result<SocketAddress> adapt(const SocketAddress& address) const;

private:
    Socket socket_;
    int family_ = AF_UNSPEC;
};

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as plain IPv4; anything else unchanged. What
// a dual-stack socket reports as the sender of an IPv4 datagram.
SocketAddress unmap_ipv4(const SocketAddress& address);

// co_await send_datagram(...): bytes sent (the whole datagram) or an error.
class SendDatagramOperation : public OperationAwaiter {
public:
    // destination null: the connected peer.
    SendDatagramOperation(Reactor& r, int fd, std::span<const std::byte> payload,
                          const SocketAddress* destination, Duration timeout,
                          CancellationSource* cancel);
    SendDatagramOperation(const SendDatagramOperation&) = delete;
    SendDatagramOperation& operator=(const SendDatagramOperation&) = delete;
    Result<std::size_t> await_resume() const;

private:
    static void prepare_send(IoOperation& op, io_uring_sqe* sqe);
    int fd_;
    SocketAddress destination_;
    iovec iov_{};
    msghdr message_{};
};

struct ReceivedDatagram {
    std::size_t size = 0;    // bytes stored in the buffer
    SocketAddress source;    // the sender, as the socket reports it
    bool truncated = false;  // the datagram was larger than the buffer (MSG_TRUNC)
};

// co_await receive_datagram(...): one datagram with its sender, or an error.
class ReceiveDatagramOperation : public OperationAwaiter {
public:
    ReceiveDatagramOperation(Reactor& r, int fd, std::span<std::byte> buffer, Duration timeout,
                             CancellationSource* cancel);
    ReceiveDatagramOperation(const ReceiveDatagramOperation&) = delete;
    ReceiveDatagramOperation& operator=(const ReceiveDatagramOperation&) = delete;
    Result<ReceivedDatagram> await_resume() const;

private:
    static void prepare_receive(IoOperation& op, io_uring_sqe* sqe);
    int fd_;
    SocketAddress source_;
    iovec iov_{};
    msghdr message_{};
};

// Sends one datagram to `destination` (sendmsg). timeout zero: no limit.
inline SendDatagramOperation send_datagram(Reactor& r, int fd, std::span<const std::byte> payload,
                                           const SocketAddress& destination,
                                           Duration timeout = Duration{0},
                                           CancellationSource* cancel = nullptr) {
    return SendDatagramOperation(r, fd, payload, &destination, timeout, cancel);
}
// Sends one datagram to the connected peer.
inline SendDatagramOperation send_datagram(Reactor& r, int fd, std::span<const std::byte> payload,
                                           Duration timeout = Duration{0},
                                           CancellationSource* cancel = nullptr) {
    return SendDatagramOperation(r, fd, payload, nullptr, timeout, cancel);
}
// Receives one datagram (recvmsg). timeout zero: no limit.
inline ReceiveDatagramOperation receive_datagram(Reactor& r, int fd, std::span<std::byte> buffer,
                                                 Duration timeout = Duration{0},
                                                 CancellationSource* cancel = nullptr) {
    return ReceiveDatagramOperation(r, fd, buffer, timeout, cancel);
}

}  // namespace anytls::io
