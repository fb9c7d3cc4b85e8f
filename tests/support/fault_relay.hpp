// FaultRelay: a TCP relay on 127.0.0.1 between a client and a server that a test controls, for
// fault injection (docs/RELIABILITY.md): it forwards bytes both ways until told to
//   - stall: swallow every byte from now on, with no FIN and no reset (a dead NAT path);
//   - reset after N bytes: once N bytes went server -> client (or client -> server) on a new
//     connection, both sides get a TCP reset (RST), not a FIN;
//   - cut_all(): reset every open connection now.
// Resets are made by SO_LINGER {1, 0} and shut down the reading side first (SHUT_RD sends
// nothing but wakes the pending receive), so the close that follows sends RST.
// Reactor thread only; the relay must outlive the reactor's tasks it spawned.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"

namespace anytls::test {

class FaultRelay {
public:
    static constexpr std::size_t never = std::numeric_limits<std::size_t>::max();

    struct Pipe {
        int client_fd = -1;
        int server_fd = -1;
        bool stalled = false;
        bool reset = false;
        std::size_t to_client = 0;  // bytes forwarded server -> client
        std::size_t to_server = 0;
        std::size_t limit_to_client = never;  // reset once this many bytes went that way
        std::size_t limit_to_server = never;
        int directions_done = 0;
    };

    FaultRelay(io::Reactor& reactor, io::SocketAddress target)
        : reactor_(&reactor), target_(target), cancel_(reactor) {
        auto listener = io::TcpListener::listen(io::SocketAddress::loopback_v4(0));
        if (listener) listener_ = std::move(listener).value();
        reactor_->spawn(accept_loop(this));
    }
    // Stops, then runs the reactor until the relay's own coroutines have ended (they point
    // at this object).
    ~FaultRelay() {
        stop();
        for (int i = 0; i < 100000 && live_ > 0; ++i) reactor_->run_once(true);
    }
    FaultRelay(const FaultRelay&) = delete;
    FaultRelay& operator=(const FaultRelay&) = delete;

    std::uint16_t port() const { return listener_.address().port(); }
    bool listening() const { return listener_.fd() >= 0; }

    // Faults for connections accepted from now on.
    void reset_after_to_client(std::size_t n) { reset_after_to_client_ = n; }
    void reset_after_to_server(std::size_t n) { reset_after_to_server_ = n; }
    void clear_faults() {
        reset_after_to_client_ = never;
        reset_after_to_server_ = never;
    }
    // Faults on every open connection, now.
    void stall_all() {
        for (auto& p : pipes_) p->stalled = true;
    }
    void cut_all() {
        for (auto& p : pipes_) reset(*p);
    }

    std::size_t accepted() const { return accepted_; }
    std::size_t resets() const { return resets_; }
    // Connections whose both directions ended.
    std::size_t finished() const {
        std::size_t n = 0;
        for (auto& p : pipes_) n += p->directions_done == 2;
        return n;
    }

    void stop() {
        if (stopped_) return;
        stopped_ = true;
        cancel_.cancel();
        cut_all();
    }

private:
    struct Live {
        explicit Live(FaultRelay* r) : relay(r) { ++relay->live_; }
        ~Live() { --relay->live_; }
        Live(const Live&) = delete;
        Live& operator=(const Live&) = delete;
        FaultRelay* relay;
    };

    void reset(Pipe& p) {
        if (p.reset) return;
        p.reset = true;
        ++resets_;
        const linger hard{1, 0};
        for (int fd : {p.client_fd, p.server_fd}) {
            if (fd < 0) continue;
            ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
            ::shutdown(fd, SHUT_RD);  // wakes the pending receive; the close then sends RST
        }
    }

    static io::Task<void> direction(FaultRelay* self, std::shared_ptr<Pipe> pipe, bool to_client) {
        Live live(self);
        const int from = to_client ? pipe->server_fd : pipe->client_fd;
        const int to = to_client ? pipe->client_fd : pipe->server_fd;
        const std::size_t limit = to_client ? pipe->limit_to_client : pipe->limit_to_server;
        std::size_t& count = to_client ? pipe->to_client : pipe->to_server;
        std::vector<std::byte> buffer(64 * 1024);
        while (!pipe->reset) {
            auto receive = io::recv(*self->reactor_, from, buffer.data(), buffer.size());
            auto n = co_await receive;
            if (!n || *n == 0 || pipe->reset) break;
            if (pipe->stalled) continue;  // swallowed: the path is dead but nobody says so
            std::size_t forward = *n;
            bool cut = false;
            if (limit != never && count + forward >= limit) {
                forward = limit - count;
                cut = true;
            }
            if (forward > 0) {
                auto sent = co_await io::send_all(
                    *self->reactor_, to, std::span<const std::byte>(buffer.data(), forward),
                    std::chrono::seconds(10));
                if (!sent) break;
                count += forward;
            }
            if (cut) {
                self->reset(*pipe);
                break;
            }
        }
        if (!pipe->reset) ::shutdown(to, SHUT_WR);
        ++pipe->directions_done;
    }

    static io::Task<void> connection(FaultRelay* self, io::Socket client,
                                     std::size_t limit_to_client, std::size_t limit_to_server) {
        Live live(self);
        auto upstream =
            co_await io::tcp_connect(*self->reactor_, self->target_, std::chrono::seconds(5));
        if (!upstream || self->stopped_) co_return;
        io::Socket server = std::move(upstream).value();
        auto pipe = std::make_shared<Pipe>();
        pipe->client_fd = client.fd();
        pipe->server_fd = server.fd();
        pipe->limit_to_client = limit_to_client;
        pipe->limit_to_server = limit_to_server;
        self->pipes_.push_back(pipe);
        if (limit_to_client == 0 || limit_to_server == 0) self->reset(*pipe);
        self->reactor_->spawn(direction(self, pipe, true));
        self->reactor_->spawn(direction(self, pipe, false));
        // This frame owns both sockets until both directions ended.
        while (pipe->directions_done < 2) {
            auto pause = io::sleep_for(*self->reactor_, std::chrono::milliseconds(5));
            co_await pause;
        }
        pipe->client_fd = pipe->server_fd = -1;
    }

    static io::Task<void> accept_loop(FaultRelay* self) {
        Live live(self);
        while (true) {
            auto accept = self->listener_.accept(*self->reactor_, &self->cancel_);
            auto socket = co_await accept;
            if (!socket) break;
            ++self->accepted_;
            self->reactor_->spawn(connection(self, std::move(socket).value(),
                                             self->reset_after_to_client_,
                                             self->reset_after_to_server_));
        }
        self->listener_.close();
    }

    io::Reactor* reactor_;
    io::SocketAddress target_;
    io::TcpListener listener_;
    io::CancellationSource cancel_;
    std::vector<std::shared_ptr<Pipe>> pipes_;
    std::size_t reset_after_to_client_ = never;
    std::size_t reset_after_to_server_ = never;
    std::size_t accepted_ = 0;
    std::size_t resets_ = 0;
    int live_ = 0;  // coroutines of this relay still running
    bool stopped_ = false;
};

}  // namespace anytls::test
