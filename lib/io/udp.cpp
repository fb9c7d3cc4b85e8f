// UDP sockets and datagram awaiters on the reactor (see udp.hpp).
#include "io/udp.hpp"

#include <arpa/inet.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/errors.hpp"

namespace anytls::io {

namespace {

Error errno_error(int code, std::string_view what) {
    return make_error(-code, std::string(what) + ": " + std::strerror(code));
}

}  // namespace

SocketAddress unmap_ipv4(const SocketAddress& address) {
    if (address.family() != AF_INET6) return address;
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(address.get());
    if (!IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) return address;
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = v6->sin6_port;
    std::memcpy(&v4.sin_addr, &v6->sin6_addr.s6_addr[12], 4);
    return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&v4), sizeof(v4));
}

// --- UdpSocket ----------------------------------------------------------------------------

Result<UdpSocket> UdpSocket::bind(const SocketAddress& local) {
    int fd = ::socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    if (fd < 0) return errno_error(errno, "udp socket");
    UdpSocket s;
    s.socket_ = Socket(fd);
    s.family_ = local.family();
    if (local.family() == AF_INET6) {
        const auto* v6 = reinterpret_cast<const sockaddr_in6*>(local.get());
        if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr)) {
            int off = 0;
            ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
        }
    }
    if (::bind(fd, local.get(), local.length()) != 0)
        return errno_error(errno, "bind udp " + local.to_string());
    return s;
}

Result<UdpSocket> UdpSocket::bind_any() {
    auto any6 = SocketAddress::parse_numeric("::", 0);
    if (any6) {
        auto s = bind(any6.value());
        if (s) return s;
        // EAFNOSUPPORT / EADDRNOTAVAIL: a host without IPv6; fall back to IPv4 only.
    }
    auto any4 = SocketAddress::parse_numeric("0.0.0.0", 0);
    if (!any4) return std::move(any4).error();
    return bind(any4.value());
}

Result<void> UdpSocket::connect(const SocketAddress& peer) {
    auto adapted = adapt(peer);
    if (!adapted) return std::move(adapted).error();
    if (::connect(fd(), adapted->get(), adapted->length()) != 0) {
        return errno_error(errno, "connect udp " + peer.to_string());
    }
    return {};
}

Result<SocketAddress> UdpSocket::adapt(const SocketAddress& address) const {
    if (address.family() == family_) {
        return family_ == AF_INET6 ? address : unmap_ipv4(address);
    }
    if (family_ == AF_INET6 && address.family() == AF_INET) {
        const auto* v4 = reinterpret_cast<const sockaddr_in*>(address.get());
        sockaddr_in6 v6{};
        v6.sin6_family = AF_INET6;
        v6.sin6_port = v4->sin_port;
        v6.sin6_addr.s6_addr[10] = 0xff;
        v6.sin6_addr.s6_addr[11] = 0xff;
        std::memcpy(&v6.sin6_addr.s6_addr[12], &v4->sin_addr, 4);
        return SocketAddress::from_sockaddr(reinterpret_cast<const sockaddr*>(&v6), sizeof(v6));
    }
    if (family_ == AF_INET && address.family() == AF_INET6) {
        SocketAddress unmapped = unmap_ipv4(address);
        if (unmapped.family() == AF_INET) return unmapped;
        return make_error(-EAFNOSUPPORT,
                          "cannot send to " + address.to_string() + " from an IPv4-only socket");
    }
    return make_error(-EAFNOSUPPORT, "unsupported address family");
}

// --- send / receive -----------------------------------------------------------------------

SendDatagramOperation::SendDatagramOperation(Reactor& r, int fd, std::span<const std::byte> payload,
                                             const SocketAddress* destination, Duration timeout,
                                             CancellationSource* cancel)
    : OperationAwaiter(r, &prepare_send, timeout, cancel), fd_(fd) {
    if (destination) destination_ = *destination;
    iov_.iov_base = const_cast<std::byte*>(payload.data());
    iov_.iov_len = payload.size();
    message_.msg_namelen = destination ? destination->length() : 0;
}

void SendDatagramOperation::prepare_send(IoOperation& op, io_uring_sqe* sqe) {
    auto& self = static_cast<SendDatagramOperation&>(op);
    // Pointers are taken here, not in the constructor: the awaiter's address is final only
    // once it is being awaited.
    self.message_.msg_name = self.message_.msg_namelen ? self.destination_.get_mutable() : nullptr;
    self.message_.msg_iov = &self.iov_;
    self.message_.msg_iovlen = 1;
    io_uring_prep_sendmsg(sqe, self.fd_, &self.message_, MSG_NOSIGNAL);
}

Result<std::size_t> SendDatagramOperation::await_resume() const {
    if (result < 0) return make_error(result, std::string("udp send: ") + std::strerror(-result));
    return static_cast<std::size_t>(result);
}

ReceiveDatagramOperation::ReceiveDatagramOperation(Reactor& r, int fd, std::span<std::byte> buffer,
                                                   Duration timeout, CancellationSource* cancel)
    : OperationAwaiter(r, &prepare_receive, timeout, cancel), fd_(fd) {
    iov_.iov_base = buffer.data();
    iov_.iov_len = buffer.size();
}

void ReceiveDatagramOperation::prepare_receive(IoOperation& op, io_uring_sqe* sqe) {
    auto& self = static_cast<ReceiveDatagramOperation&>(op);
    self.message_.msg_name = self.source_.get_mutable();
    self.message_.msg_namelen = sizeof(sockaddr_storage);
    self.message_.msg_iov = &self.iov_;
    self.message_.msg_iovlen = 1;
    self.message_.msg_flags = 0;
    io_uring_prep_recvmsg(sqe, self.fd_, &self.message_, 0);
}

Result<ReceivedDatagram> ReceiveDatagramOperation::await_resume() const {
    if (result < 0)
        return make_error(result, std::string("udp receive: ") + std::strerror(-result));
    ReceivedDatagram datagram;
    datagram.size = static_cast<std::size_t>(result);
    datagram.source = SocketAddress::from_sockaddr(source_.get(), message_.msg_namelen);
    datagram.truncated = (message_.msg_flags & MSG_TRUNC) != 0;
    return datagram;
}

}  // namespace anytls::io
