// WatchedEchoTarget: a TCP echo server on 127.0.0.1 (blocking sockets, a thread per
// connection) that also tells the test how many bytes it has received, so that a test knows
// the moment its payload reached the target without timing anything.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace anytls::test {

class WatchedEchoTarget {
public:
    WatchedEchoTarget() {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof address;
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
            ::listen(listener_, 16) == 0 &&
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) == 0)
            port_ = ntohs(address.sin_port);
        acceptor_ = std::thread([this] { accept_loop(); });
    }
    ~WatchedEchoTarget() {
        ::shutdown(listener_, SHUT_RDWR);  // wakes accept()
        acceptor_.join();
        ::close(listener_);
        {
            std::lock_guard lock(mutex_);
            for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);  // wakes recv()
        }
        for (auto& t : echoers_) t.join();
        for (int fd : connections_) ::close(fd);
    }
    WatchedEchoTarget(const WatchedEchoTarget&) = delete;
    WatchedEchoTarget& operator=(const WatchedEchoTarget&) = delete;

    std::uint16_t port() const { return port_; }

    std::size_t received() {
        std::lock_guard lock(mutex_);
        return received_;
    }
    // Waits until `total` bytes have arrived over all connections, at most `limit`.
    bool wait_received(std::size_t total, std::chrono::milliseconds limit) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, limit, [&] { return received_ >= total; });
    }

private:
    void accept_loop() {
        for (;;) {
            const int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
            if (fd < 0) return;
            std::lock_guard lock(mutex_);
            connections_.push_back(fd);
            echoers_.emplace_back([this, fd] { echo(fd); });
        }
    }

    void echo(int fd) {
        char buffer[16 * 1024];
        for (;;) {
            const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
            if (n <= 0) break;
            {
                std::lock_guard lock(mutex_);
                received_ += static_cast<std::size_t>(n);
            }
            changed_.notify_all();
            if (::send(fd, buffer, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
        }
        ::shutdown(fd, SHUT_WR);
    }

    int listener_ = -1;
    std::uint16_t port_ = 0;
    std::thread acceptor_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::size_t received_ = 0;
    std::vector<int> connections_;  // closed when the target is destroyed
    std::vector<std::thread> echoers_;
};

}  // namespace anytls::test
