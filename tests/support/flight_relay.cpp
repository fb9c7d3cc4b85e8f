// flight_relay: a TCP relay on 127.0.0.1 that counts round trips by holding back what the
// server sends, for the round-trip tests of every entry (C API, Python, Go, `anytls socks`).
//
//   flight_relay UPSTREAM_PORT
//
// Listens on 127.0.0.1 (a free port) and forwards each accepted connection to
// 127.0.0.1:UPSTREAM_PORT (the AnyTLS server). Client -> server bytes are always forwarded at
// once. Server -> client bytes are forwarded too, until the test says `hold`. It is driven by
// a line protocol on stdin; every command gets one line on stdout:
//
//   (at start)  port N
//   hold        ok hold        From now on keep every connection's server -> client bytes
//                              (connections accepted later too) instead of forwarding them.
//   release     released flight=F bytes=B
//                              Lets one flight through on every connection: what is held goes
//                              now, and what the server sends after it goes at once too, until
//                              that connection's client starts a new TLS record (other than
//                              ChangeCipherSpec); from that byte on, the connection holds
//                              again. F counts the releases so far, B the held bytes sent now.
//   pass        ok pass        Forward everything held and stop holding.
//   stats       stats accepted=.. open=.. flights=.. held_s2c=.. forwarded_s2c=..
//                     forwarded_c2s=.. records_c2s=.. records_s2c=.. holding=0|1
//   quit, or the end of stdin: exit.
//
// Why a flight ends when the client speaks (tests/round_trips/README.md has the whole
// argument): the server can only answer bytes it has received, and the relay closes the gate
// *before* it forwards the client's new record, in one thread. So a released flight can never
// carry the server's answer to what the client said after getting it, however fast or slow
// any process runs: one release is at most one round trip. It is also everything the server
// says until the client speaks again, so a flight is never cut short by the moment the test
// chose to release it.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "support/tls_record_scanner.hpp"

namespace {

using Bytes = std::vector<std::byte>;

struct Connection {
    int client_fd = -1;
    int server_fd = -1;
    Bytes to_client;  // forwarded, waiting for the client socket to take it
    Bytes to_server;
    Bytes held;              // server -> client bytes kept back
    bool gate_open = false;  // while holding: this connection is letting a released flight through
    bool client_eof = false;
    bool server_eof = false;
    bool server_eof_held =
        false;  // the server's FIN arrived while holding: it goes with the next flight
    bool client_write_shut = false;
    bool server_write_shut = false;
    bool broken = false;
    anytls::test::TlsRecordScanner from_client;
    anytls::test::TlsRecordScanner from_server;
};

struct Counters {
    std::size_t accepted = 0;
    std::size_t flights = 0;
    std::size_t forwarded_s2c = 0;
    std::size_t forwarded_c2s = 0;
    std::size_t records_c2s = 0;
    std::size_t records_s2c = 0;
};

class Relay {
public:
    explicit Relay(std::uint16_t upstream_port) : upstream_port_(upstream_port) {}

    bool listen() {
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listener_ < 0) return false;
        sockaddr_in address = loopback(0);
        if (::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
            return false;
        if (::listen(listener_, 64) != 0) return false;
        socklen_t length = sizeof address;
        if (::getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length) != 0)
            return false;
        port_ = ntohs(address.sin_port);
        return true;
    }

    std::uint16_t port() const { return port_; }

    // Runs until `quit` or the end of stdin.
    void run() {
        std::string commands;
        for (;;) {
            std::vector<pollfd> fds;
            fds.push_back({STDIN_FILENO, POLLIN, 0});
            fds.push_back({listener_, POLLIN, 0});
            for (auto& c : connections_) {
                watch(fds, c->client_fd, !c->client_eof, !c->to_client.empty());
                watch(fds, c->server_fd, !c->server_eof, !c->to_server.empty());
            }
            if (::poll(fds.data(), fds.size(), -1) < 0) {
                if (errno == EINTR) continue;
                std::perror("flight_relay: poll");
                return;
            }
            if (fds[0].revents) {
                char chunk[4096];
                const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
                if (n <= 0) return;
                commands.append(chunk, static_cast<std::size_t>(n));
                for (std::size_t end; (end = commands.find('\n')) != std::string::npos;) {
                    std::string line = commands.substr(0, end);
                    commands.erase(0, end + 1);
                    if (!command(line)) return;
                }
            }
            // Connections first, in the order poll saw them; a new one joins the next round.
            for (std::size_t i = 0; i < connections_.size(); ++i) {
                Connection& c = *connections_[i];
                const short client_events = fds[2 + 2 * i].revents;
                const short server_events = fds[3 + 2 * i].revents;
                if (!c.server_eof && (server_events & (POLLIN | POLLHUP | POLLERR))) read_server(c);
                if (!c.client_eof && (client_events & (POLLIN | POLLHUP | POLLERR))) read_client(c);
                flush(c);
            }
            std::erase_if(connections_,
                          [](const std::unique_ptr<Connection>& c) { return finished(*c); });
            if (fds[1].revents & POLLIN) accept_one();
        }
    }

private:
    static sockaddr_in loopback(std::uint16_t port) {
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(port);
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return address;
    }

    // A side with nothing to wait for is left out (a negative fd), so that a hung-up socket
    // cannot make poll return at once forever.
    static void watch(std::vector<pollfd>& fds, int fd, bool readable, bool writable) {
        const short events = static_cast<short>((readable ? POLLIN : 0) | (writable ? POLLOUT : 0));
        fds.push_back({events ? fd : -1, events, 0});
    }

    static void no_delay(int fd) {
        // Every byte leaves when the relay forwards it: Nagle's wait would blur flights.
        const int on = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    }

    void accept_one() {
        const int client = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client < 0) return;
        // A blocking connect is instant on loopback and keeps the loop simple.
        const int server = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in upstream = loopback(upstream_port_);
        if (server < 0 ||
            ::connect(server, reinterpret_cast<sockaddr*>(&upstream), sizeof upstream) != 0) {
            std::fprintf(stderr, "flight_relay: cannot reach 127.0.0.1:%u: %s\n", upstream_port_,
                         std::strerror(errno));
            if (server >= 0) ::close(server);
            ::close(client);
            return;
        }
        ::fcntl(server, F_SETFL, ::fcntl(server, F_GETFL) | O_NONBLOCK);
        no_delay(client);
        no_delay(server);
        auto c = std::make_unique<Connection>();
        c->client_fd = client;
        c->server_fd = server;
        ++counters_.accepted;
        connections_.push_back(std::move(c));
    }

    // false: the peer closed (or failed) this side.
    static bool receive(int fd, Bytes& into, std::size_t* count) {
        std::byte chunk[64 * 1024];
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            *count = 0;
            return true;
        }
        if (n <= 0) return false;
        into.assign(chunk, chunk + n);
        *count = static_cast<std::size_t>(n);
        return true;
    }

    void read_server(Connection& c) {
        Bytes bytes;
        std::size_t n = 0;
        if (!receive(c.server_fd, bytes, &n)) {
            c.server_eof = true;
            if (holding_ && !c.gate_open) c.server_eof_held = true;
            return;
        }
        if (n == 0) return;
        counters_.records_s2c += c.from_server.feed(bytes).records_started;
        Bytes& to = holding_ && !c.gate_open ? c.held : c.to_client;
        if (&to == &c.to_client) counters_.forwarded_s2c += n;
        to.insert(to.end(), bytes.begin(), bytes.end());
    }

    void read_client(Connection& c) {
        Bytes bytes;
        std::size_t n = 0;
        if (!receive(c.client_fd, bytes, &n)) {
            c.client_eof = true;
            return;
        }
        if (n == 0) return;
        const auto scan = c.from_client.feed(bytes);
        counters_.records_c2s += scan.records_started;
        // The gate closes before these bytes are forwarded: nothing the server says in answer
        // to them can be part of the flight that was released.
        if (holding_ && scan.meaningful_record_started) c.gate_open = false;
        c.to_server.insert(c.to_server.end(), bytes.begin(), bytes.end());
        counters_.forwarded_c2s += n;
    }

    // false: the socket failed.
    static bool send_some(int fd, Bytes& queue) {
        while (!queue.empty()) {
            const ssize_t n = ::send(fd, queue.data(), queue.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
            queue.erase(queue.begin(), queue.begin() + n);
        }
        return true;
    }

    static void flush(Connection& c) {
        if (!send_some(c.client_fd, c.to_client) || !send_some(c.server_fd, c.to_server)) {
            c.broken = true;
            return;
        }
        // A FIN travels like the bytes before it: after them, and held while they are held.
        if (c.server_eof && !c.server_eof_held && c.to_client.empty() && c.held.empty() &&
            !c.client_write_shut) {
            ::shutdown(c.client_fd, SHUT_WR);
            c.client_write_shut = true;
        }
        if (c.client_eof && c.to_server.empty() && !c.server_write_shut) {
            ::shutdown(c.server_fd, SHUT_WR);
            c.server_write_shut = true;
        }
    }

    static bool finished(Connection& c) {
        const bool done = c.broken || (c.client_write_shut && c.server_write_shut);
        if (done) {
            ::close(c.client_fd);
            ::close(c.server_fd);
        }
        return done;
    }

    std::size_t release_held(Connection& c) {
        const std::size_t n = c.held.size();
        c.to_client.insert(c.to_client.end(), c.held.begin(), c.held.end());
        c.held.clear();
        c.server_eof_held = false;
        counters_.forwarded_s2c += n;
        flush(c);
        return n;
    }

    // false: quit.
    bool command(const std::string& line) {
        if (line == "hold") {
            holding_ = true;
            for (auto& c : connections_) c->gate_open = false;
            reply("ok hold");
        } else if (line == "release") {
            ++counters_.flights;
            std::size_t bytes = 0;
            for (auto& c : connections_) {
                bytes += release_held(*c);
                c->gate_open = true;
            }
            reply("released flight=" + std::to_string(counters_.flights) +
                  " bytes=" + std::to_string(bytes));
        } else if (line == "pass") {
            holding_ = false;
            for (auto& c : connections_) release_held(*c);
            reply("ok pass");
        } else if (line == "stats") {
            std::size_t held = 0;
            for (auto& c : connections_) held += c->held.size();
            reply("stats accepted=" + std::to_string(counters_.accepted) +
                  " open=" + std::to_string(connections_.size()) + " flights=" +
                  std::to_string(counters_.flights) + " held_s2c=" + std::to_string(held) +
                  " forwarded_s2c=" + std::to_string(counters_.forwarded_s2c) +
                  " forwarded_c2s=" + std::to_string(counters_.forwarded_c2s) +
                  " records_c2s=" + std::to_string(counters_.records_c2s) + " records_s2c=" +
                  std::to_string(counters_.records_s2c) + " holding=" + (holding_ ? "1" : "0"));
        } else if (line == "quit") {
            return false;
        } else if (!line.empty()) {
            reply("error unknown command '" + line + "' (hold, release, pass, stats, quit)");
        }
        return true;
    }

    static void reply(const std::string& text) {
        std::fputs((text + "\n").c_str(), stdout);
        std::fflush(stdout);
    }

    std::uint16_t upstream_port_;
    std::uint16_t port_ = 0;
    int listener_ = -1;
    bool holding_ = false;
    Counters counters_;
    std::vector<std::unique_ptr<Connection>> connections_;
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2 || std::atoi(argv[1]) <= 0 || std::atoi(argv[1]) > 65535) {
        std::fprintf(stderr,
                     "usage: flight_relay UPSTREAM_PORT  (relays 127.0.0.1:<free> -> "
                     "127.0.0.1:UPSTREAM_PORT)\n");
        return 2;
    }
    ::signal(SIGPIPE, SIG_IGN);
    Relay relay(static_cast<std::uint16_t>(std::atoi(argv[1])));
    if (!relay.listen()) {
        std::perror("flight_relay: listen");
        return 1;
    }
    std::printf("port %u\n", relay.port());
    std::fflush(stdout);
    relay.run();
    return 0;
}
