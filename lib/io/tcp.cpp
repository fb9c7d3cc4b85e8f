// TCP primitives on the reactor (see tcp.hpp).
#include "io/tcp.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <thread>

#include "base/errors.hpp"
#include "base/host_port.hpp"
#include "io/timer.hpp"

namespace anytls::io {

namespace {

Error errno_error(int code, std::string_view what) {
    return make_error(-code, std::string(what) + ": " + std::strerror(code));
}

std::string_view strip_brackets(std::string_view host) {
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        return host.substr(1, host.size() - 2);
    return host;
}

}  // namespace

// --- SocketAddress ------------------------------------------------------------------------

Result<SocketAddress> SocketAddress::parse_numeric(std::string_view host_in, std::uint16_t port) {
    std::string host(strip_brackets(host_in));
    SocketAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        a.length_ = sizeof(sockaddr_in);
        return a;
    }
    a.storage_ = {};
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
    if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        a.length_ = sizeof(sockaddr_in6);
        return a;
    }
    return make_error(errc::invalid_argument, "not a numeric IP address: '" + host + "'");
}

Result<SocketAddress> SocketAddress::parse_host_port(std::string_view text) {
    HostPortRules rules;
    rules.allow_port_zero = true;  // a listen address: 0 picks a free port
    auto parts = anytls::parse_host_port(text, rules);
    if (!parts) return std::move(parts).error();
    return parse_numeric(parts->host, parts->port);
}

SocketAddress SocketAddress::loopback_v4(std::uint16_t port) {
    SocketAddress a;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.length_ = sizeof(sockaddr_in);
    return a;
}

SocketAddress SocketAddress::from_sockaddr(const sockaddr* sa, socklen_t len) {
    SocketAddress a;
    std::memcpy(&a.storage_, sa, std::min<std::size_t>(len, sizeof(a.storage_)));
    a.length_ = len;
    return a;
}

std::uint16_t SocketAddress::port() const {
    if (family() == AF_INET)
        return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
    if (family() == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
    return 0;
}

std::string SocketAddress::host_string() const {
    char buf[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
                    sizeof(buf));
    } else if (family() == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
                    sizeof(buf));
    }
    return buf;
}

std::string SocketAddress::to_string() const {
    if (family() == AF_INET6) return "[" + host_string() + "]:" + std::to_string(port());
    return host_string() + ":" + std::to_string(port());
}

// --- Socket -------------------------------------------------------------------------------

Socket& Socket::operator=(Socket&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = other.release();
    }
    return *this;
}

void Socket::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

void Socket::shutdown(int how) {
    if (fd_ >= 0) ::shutdown(fd_, how);
}

Result<void> Socket::set_nodelay(bool on) {
    int v = on ? 1 : 0;
    if (::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &v, sizeof(v)) != 0)
        return errno_error(errno, "TCP_NODELAY");
    return {};
}

Result<void> Socket::set_keepalive(Duration idle) {
    int on = idle > Duration::zero() ? 1 : 0;
    if (::setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0)
        return errno_error(errno, "SO_KEEPALIVE");
    if (!on) return {};
    int secs = static_cast<int>(
        std::max<long long>(1, std::chrono::duration_cast<std::chrono::seconds>(idle).count()));
    int count = 3;
    if (::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof(secs)) != 0 ||
        ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof(secs)) != 0 ||
        ::setsockopt(fd_, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof(count)) != 0) {
        return errno_error(errno, "TCP keepalive");
    }
    return {};
}

Result<SocketAddress> Socket::local_address() const {
    SocketAddress a;
    if (::getsockname(fd_, a.get_mutable(), a.length_ptr()) != 0)
        return errno_error(errno, "getsockname");
    return a;
}

Result<SocketAddress> Socket::peer_address() const {
    SocketAddress a;
    if (::getpeername(fd_, a.get_mutable(), a.length_ptr()) != 0)
        return errno_error(errno, "getpeername");
    return a;
}

// --- recv / send --------------------------------------------------------------------------

void RecvOperation::prepare_recv(IoOperation& op, io_uring_sqe* sqe) {
    auto& self = static_cast<RecvOperation&>(op);
    io_uring_prep_recv(sqe, self.fd_, self.buffer_, self.length_, 0);
}

Result<std::size_t> RecvOperation::await_resume() const {
    if (result < 0) return make_error(result);
    return static_cast<std::size_t>(result);
}

void SendOperation::prepare_send(IoOperation& op, io_uring_sqe* sqe) {
    auto& self = static_cast<SendOperation&>(op);
    io_uring_prep_send(sqe, self.fd_, self.buffer_, self.length_, MSG_NOSIGNAL);
}

Result<std::size_t> SendOperation::await_resume() const {
    if (result < 0) return make_error(result);
    return static_cast<std::size_t>(result);
}

Task<Result<void>> send_all(Reactor& r, int fd, std::span<const std::byte> data, Duration timeout,
                            CancellationSource* cancel) {
    while (!data.empty()) {
        auto sent = co_await send(r, fd, data.data(), data.size(), timeout, cancel);
        if (!sent) co_return std::move(sent).error();
        data = data.subspan(*sent);
    }
    co_return Result<void>{};
}

Task<Result<void>> recv_exact(Reactor& r, int fd, std::span<std::byte> data, Duration timeout,
                              CancellationSource* cancel) {
    while (!data.empty()) {
        auto got = co_await recv(r, fd, data.data(), data.size(), timeout, cancel);
        if (!got) co_return std::move(got).error();
        if (*got == 0) co_return make_error(errc::closed);
        data = data.subspan(*got);
    }
    co_return Result<void>{};
}

// --- connect ------------------------------------------------------------------------------

namespace {

class ConnectOperation : public OperationAwaiter {
public:
    ConnectOperation(Reactor& r, int fd, const SocketAddress& address, Duration timeout,
                     CancellationSource* cancel)
        : OperationAwaiter(r, &prepare_connect, timeout, cancel), fd_(fd), address_(address) {}

private:
    static void prepare_connect(IoOperation& op, io_uring_sqe* sqe) {
        auto& self = static_cast<ConnectOperation&>(op);
        io_uring_prep_connect(sqe, self.fd_, self.address_.get(), self.address_.length());
    }
    int fd_;
    SocketAddress address_;
};

// Runs getaddrinfo on a helper thread and resumes the awaiting coroutine on the reactor.
struct ResolveState {
    Reactor* reactor;
    std::string host;
    std::uint16_t port;
    Result<std::vector<SocketAddress>> result{make_error(errc::invalid_argument)};
    std::coroutine_handle<> waiter;
    // Cancelled: the waiter resumed already; the helper thread's late answer is dropped.
    CancellationSource* cancel = nullptr;
    CancelHook hook;
    bool abandoned = false;
};

void resolve_blocking(ResolveState& st) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* list = nullptr;
    std::string port = std::to_string(st.port);
    int rc = ::getaddrinfo(st.host.c_str(), port.c_str(), &hints, &list);
    if (rc != 0) {
        st.result =
            make_error(-EHOSTUNREACH, "cannot resolve '" + st.host + "': " + ::gai_strerror(rc));
        return;
    }
    std::vector<SocketAddress> out;
    for (addrinfo* ai = list; ai; ai = ai->ai_next) {
        out.push_back(SocketAddress::from_sockaddr(ai->ai_addr, ai->ai_addrlen));
    }
    ::freeaddrinfo(list);
    if (out.empty())
        st.result = make_error(-EHOSTUNREACH, "no addresses for '" + st.host + "'");
    else
        st.result = std::move(out);
}

struct ResolveAwaiter {
    std::shared_ptr<ResolveState> state;
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
        state->waiter = h;
        state->reactor->begin_external();
        try {
            // The thread may outlive the reactor (destroyed while getaddrinfo runs): it
            // reaches it only through the post gate, never through st->reactor.
            std::thread([st = state, gate = state->reactor->post_gate()] {
                auto answer = std::make_shared<ResolveState>();
                answer->host = st->host;
                answer->port = st->port;
                resolve_blocking(*answer);
                gate->post([st, answer] {
                    st->reactor->end_external();
                    if (st->abandoned) return;
                    if (st->cancel) st->cancel->remove_hook(st->hook);
                    st->result = std::move(answer->result);
                    st->reactor->schedule(st->waiter);
                });
            }).detach();
            if (state->cancel) {
                state->hook.context = state.get();
                state->hook.fn = [](CancelHook& hook) {
                    auto* st = static_cast<ResolveState*>(hook.context);
                    st->abandoned = true;
                    st->result = make_error(-ECANCELED, "resolving '" + st->host + "': cancelled");
                    st->reactor->schedule(st->waiter);
                };
                state->cancel->add_hook(state->hook);
            }
        } catch (const std::exception& e) {
            state->reactor->end_external();
            state->result =
                make_error(-EAGAIN, std::string("cannot start resolver thread: ") + e.what());
            return false;
        }
        return true;
    }
    Result<std::vector<SocketAddress>> await_resume() { return std::move(state->result); }
};

}  // namespace

Task<Result<std::vector<SocketAddress>>> resolve(Reactor& r, std::string host, std::uint16_t port,
                                                 CancellationSource* cancel) {
    if (auto numeric = SocketAddress::parse_numeric(host, port)) {
        co_return std::vector<SocketAddress>{numeric.value()};
    }
    if (host.empty()) co_return make_error(errc::invalid_argument, "empty host name");
    auto state = std::make_shared<ResolveState>();
    state->reactor = &r;
    state->host = std::move(host);
    state->port = port;
    if (cancel && cancel->cancelled())
        co_return make_error(-ECANCELED, "resolving '" + state->host + "': cancelled");
    state->cancel = cancel;
    // A named awaiter: g++ 12 destroys a braced temporary inside `co_return co_await` twice.
    ResolveAwaiter awaiter{std::move(state)};
    auto addresses = co_await awaiter;
    co_return addresses;
}

Task<Result<Socket>> tcp_connect(Reactor& r, SocketAddress address, Duration timeout,
                                 CancellationSource* cancel) {
    int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) co_return errno_error(errno, "socket");
    Socket socket(fd);
    int rc = co_await ConnectOperation(r, fd, address, timeout, cancel);
    if (rc < 0) {
        std::string what = "connect to " + address.to_string();
        if (rc == -ETIMEDOUT) co_return make_error(rc, what + ": timed out");
        co_return make_error(rc, what + ": " + std::strerror(-rc));
    }
    (void)socket.set_nodelay(true);
    co_return std::move(socket);
}

Task<Result<Socket>> tcp_connect(Reactor& r, std::string host, std::uint16_t port, Duration timeout,
                                 CancellationSource* cancel) {
    Deadline deadline = timeout > Duration::zero() ? Deadline::after(timeout) : Deadline::never();
    auto addresses = co_await resolve(r, host, port, cancel);
    if (!addresses) co_return std::move(addresses).error();
    Error last = make_error(-EHOSTUNREACH);
    for (const SocketAddress& a : *addresses) {
        if (deadline.expired())
            co_return make_error(-ETIMEDOUT, "connect to " + host + ": timed out");
        auto s = co_await tcp_connect(r, a, deadline.remaining(), cancel);
        if (s) co_return s;
        last = std::move(s).error();
        if (last.code == -ECANCELED) break;
    }
    co_return last;
}

// --- listen / accept ----------------------------------------------------------------------

Result<TcpListener> TcpListener::listen(const SocketAddress& address, int backlog) {
    int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return errno_error(errno, "socket");
    TcpListener l;
    l.socket_ = Socket(fd);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, address.get(), address.length()) != 0) {
        return errno_error(errno, "bind " + address.to_string());
    }
    if (::listen(fd, backlog) != 0) return errno_error(errno, "listen");
    auto bound = l.socket_.local_address();
    if (!bound) return std::move(bound).error();
    l.address_ = bound.value();
    return l;
}

void TcpListener::AcceptOperation::prepare_accept(IoOperation& op, io_uring_sqe* sqe) {
    auto& self = static_cast<AcceptOperation&>(op);
    io_uring_prep_accept(sqe, self.fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

Result<Socket> TcpListener::AcceptOperation::await_resume() const {
    if (result < 0) return make_error(result, std::string("accept: ") + std::strerror(-result));
    Socket s(result);
    (void)s.set_nodelay(true);
    return s;
}

}  // namespace anytls::io
