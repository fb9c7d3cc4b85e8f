// Benchmark helper: a TCP relay on 127.0.0.1 that emulates a WAN link between an AnyTLS
// client and its server (this kernel has no netem qdisc, so the delay lives in user space).
//
//   bench_delay_relay --target 127.0.0.1:PORT [--listen 127.0.0.1:0] [--delay-ms 25]
//                     [--blackhole-idle SECONDS] [--window BYTES] [--max-connections N]
//
// Prints "listening on 127.0.0.1:PORT" (one line, like the other bench programs) once bound,
// then serves until killed. Each accepted connection is relayed to --target over its own
// upstream connection.
//
// The link (d = --delay-ms, the one-way delay; RTT = 2 d):
//   - Every chunk of bytes read from one side is written to the other side d after it was
//     read, in order, with its FIN (shutdown) after it. A reset or an error on one side
//     reaches the other side d later as a reset.
//   - Connection set-up costs one RTT, as a TCP handshake does. On loopback the client's
//     connect() returns at once, so the relay takes every byte either side writes before
//     accept + 2 d (the moment a real client would have had the SYN-ACK) as written then:
//     a byte read at t is delivered at max(t, accept + 2 d) + d. The client's first byte thus
//     reaches the server 1.5 RTT after its connect() and the answer is back at 2 RTT, as over
//     a real link. The upstream connection is made at accept; if it fails, the client gets a
//     reset at accept + 2 d (a refused SYN's RST).
//   - Nothing else limits throughput: at most --window bytes (default 8 MiB) wait in each
//     direction, after which the relay stops reading that side (so throughput is at most
//     window / d, like a TCP window over a real link; 320 MB/s at the defaults).
//   - --blackhole-idle S: a connection on which no byte moved in either direction for S
//     seconds is blackholed from then on, as a NAT that dropped its mapping: the relay keeps
//     reading both sides and discards every byte, sends no FIN and no reset, and closes its
//     sockets only once both peers have closed theirs (EOF or error on both sides). TCP-level
//     keepalives are answered by the relay's own kernel, so only an application-level probe
//     (heartbeat, timeout) can find such a connection dead.
// Addresses must be on 127.0.0.0/8: the relay never connects anywhere else.
//
// One thread, level-triggered epoll, one timerfd (absolute CLOCK_MONOTONIC deadlines, timer
// slack 1 ns) armed to the earliest due chunk: deliveries are late by a wake-up, tens of µs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "ipv4_address.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using Duration = Clock::duration;

[[noreturn]] void fail(const std::string& what) {
    std::fprintf(stderr, "bench_delay_relay: %s\n", what.c_str());
    std::exit(1);
}

[[noreturn]] void fail_errno(const std::string& what) { fail(what + ": " + std::strerror(errno)); }

sockaddr_in parse_address(const std::string& text) {
    std::string why;
    auto address = anytls::bench::parse_ipv4_address(text, &why);
    if (!address) fail(why);
    if ((ntohl(address->sin_addr.s_addr) >> 24) != 127)
        fail("address \"" + text + "\" is not on 127.0.0.0/8");
    return *address;
}

double parse_number(const std::string& what, const std::string& text) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0' || !(v >= 0))
        fail(what + " \"" + text + "\" is not a number >= 0");
    return v;
}

constexpr std::size_t kReadSize = 64 * 1024;

// One direction of a connection: bytes read from side `from`, written to the other side.
struct Chunk {
    Clock::time_point due;
    enum Kind { Data, Fin, Reset } kind = Data;
    std::string bytes;
    std::size_t offset = 0;  // bytes of `bytes` already written
};

struct Direction {
    std::deque<Chunk> queue;
    std::size_t queued = 0;    // data bytes in `queue` not yet written
    bool timer_armed = false;  // a timer entry for the head chunk is in the heap
    Clock::time_point last_due{};
};

struct Side {
    int fd = -1;
    bool reading = true;     // EPOLLIN wanted (not at EOF, not paused by the window)
    bool read_done = false;  // EOF or error read: nothing more will come from this side
    bool write_blocked = false;
    bool registered =
        false;  // in the epoll set (a side that wants nothing is not: see update_interest)
    std::uint32_t interest = 0;
};

struct Connection {
    std::uint64_t id = 0;
    Side side[2];      // 0 = downstream (accepted), 1 = upstream (to --target)
    Direction dir[2];  // dir[s]: bytes read from side[s], written to side[1 - s]
    bool connecting = true;
    bool blackholed = false;
    Clock::time_point open_at;        // accept + 2 d: bytes are taken as sent no earlier
    Clock::time_point last_activity;  // last byte read or written, either side
    bool idle_timer_armed = false;
};

struct Timer {
    Clock::time_point due;
    std::uint64_t id;
    int what;  // 0, 1: deliver dir[what]; 2: idle check
    bool operator>(const Timer& o) const { return due > o.due; }
};

class Relay {
public:
    Relay(sockaddr_in target, Duration delay, Duration blackhole_idle, std::size_t window,
          std::size_t max_conns)
        : target_(target),
          delay_(delay),
          blackhole_idle_(blackhole_idle),
          window_(window),
          max_conns_(max_conns) {}

    void run(const sockaddr_in& listen_at) {
        listener_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (listener_ < 0) fail_errno("socket");
        int one = 1;
        setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in a = listen_at;
        if (bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
            fail_errno("cannot bind");
        if (listen(listener_, 4096) != 0) fail_errno("cannot listen");
        socklen_t len = sizeof a;
        getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
        ep_ = epoll_create1(EPOLL_CLOEXEC);
        timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        if (ep_ < 0 || timer_fd_ < 0) fail_errno("epoll_create1 / timerfd_create");
        add(listener_, EPOLLIN, kListenerTag);
        add(timer_fd_, EPOLLIN, kTimerTag);
        std::printf("listening on 127.0.0.1:%u\n", ntohs(a.sin_port));
        std::fflush(stdout);

        std::vector<epoll_event> events(256);
        for (;;) {
            arm_timerfd();
            int k = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), -1);
            if (k < 0) {
                if (errno == EINTR) continue;
                fail_errno("epoll_wait");
            }
            for (int i = 0; i < k; ++i) {
                std::uint64_t tag = events[i].data.u64;
                if (tag == kListenerTag)
                    accept_all();
                else if (tag == kTimerTag) {
                    std::uint64_t expirations;
                    [[maybe_unused]] auto r = read(timer_fd_, &expirations, sizeof expirations);
                } else
                    on_socket(tag >> 1, static_cast<int>(tag & 1), events[i].events);
            }
            run_timers();
        }
    }

private:
    static constexpr std::uint64_t kListenerTag = ~std::uint64_t(0);
    static constexpr std::uint64_t kTimerTag = ~std::uint64_t(0) - 1;

    void add(int fd, std::uint32_t events, std::uint64_t tag) {
        epoll_event e{};
        e.events = events;
        e.data.u64 = tag;
        if (epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e) != 0) fail_errno("epoll_ctl ADD");
    }

    void accept_all() {
        for (;;) {
            int fd = accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED) continue;
                if (errno == EMFILE || errno == ENFILE)
                    std::fprintf(stderr, "bench_delay_relay: accept: %s\n", std::strerror(errno));
                return;  // EAGAIN, or out of descriptors: the backlog waits for the next wake-up
            }
            if (conns_.size() >= max_conns_) {
                std::fprintf(stderr, "bench_delay_relay: %zu connections open, refusing one\n",
                             conns_.size());
                abort_fd(fd);
                continue;
            }
            int up = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (up < 0) {
                std::fprintf(stderr, "bench_delay_relay: socket: %s\n", std::strerror(errno));
                abort_fd(fd);
                continue;
            }
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            auto now = Clock::now();
            std::uint64_t id = next_id_++;
            Connection& c = conns_[id];
            c.id = id;
            c.side[0].fd = fd;
            c.side[1].fd = up;
            c.open_at = now + 2 * delay_;
            c.last_activity = now;
            arm_idle_timer(c);
            update_interest(c, 0);  // the client's bytes are read (and queued) at once
            int r = connect(up, reinterpret_cast<const sockaddr*>(&target_), sizeof target_);
            if (r != 0 && errno != EINPROGRESS)
                connect_failed(c);
            else if (r == 0)
                connected(c);
            else
                update_interest(c, 1);  // EPOLLOUT reports the connect's result
        }
    }

    void connected(Connection& c) {
        std::uint64_t id = c.id;
        c.connecting = false;
        update_interest(c, 0);
        update_interest(c, 1);
        // Chunks that came due while the upstream connect was pending (a flush may close c).
        flush(c, 0);
        if (Connection* still = find(id)) flush(*still, 1);
    }

    // A refused upstream connect: the client learns it one RTT after its connect(), by a reset.
    void connect_failed(Connection& c) {
        c.connecting = false;
        c.side[1].read_done = true;
        c.side[1].reading = false;
        c.side[0].reading = false;
        c.side[0].read_done = true;
        update_interest(c, 0);
        update_interest(c, 1);
        push(c, 1, Chunk{std::max(Clock::now(), c.open_at), Chunk::Reset, {}, 0},
             /*at_exact=*/true);
    }

    Connection* find(std::uint64_t id) {
        auto it = conns_.find(id);
        return it == conns_.end() ? nullptr : &it->second;
    }

    void update_interest(Connection& c, int s) {
        Side& side = c.side[s];
        if (side.fd < 0) return;
        std::uint32_t want = 0;
        if (s == 1 && c.connecting)
            want = EPOLLOUT;
        else {
            if (side.reading && !side.read_done) want |= EPOLLIN | EPOLLRDHUP;
            if (side.write_blocked) want |= EPOLLOUT;
        }
        if (side.registered && want == side.interest) return;
        side.interest = want;
        // EPOLLHUP and EPOLLERR are reported whatever the mask, so a side that wants nothing
        // (at EOF, or paused by the window) leaves the set instead of waking the loop forever.
        if (want == 0) {
            if (side.registered) epoll_ctl(ep_, EPOLL_CTL_DEL, side.fd, nullptr);
            side.registered = false;
            return;
        }
        epoll_event e{};
        e.events = want;
        e.data.u64 = (c.id << 1) | static_cast<std::uint64_t>(s);
        if (epoll_ctl(ep_, side.registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, side.fd, &e) != 0)
            fail_errno("epoll_ctl");
        side.registered = true;
    }

    void on_socket(std::uint64_t id, int s, std::uint32_t events) {
        Connection* c = find(id);
        if (!c) return;
        if (s == 1 && c->connecting) {
            int err = 0;
            socklen_t len = sizeof err;
            getsockopt(c->side[1].fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0)
                connect_failed(*c);
            else if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                connected(*c);
            return;
        }
        if (events & EPOLLOUT) {
            c->side[s].write_blocked = false;
            flush(*c, 1 - s);  // side s is the destination of dir[1 - s]
            if (!(c = find(id))) return;
        }
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_side(*c, s);
    }

    void read_side(Connection& c, int s) {
        Side& side = c.side[s];
        if (!side.reading || side.read_done) return;
        char buf[kReadSize];
        // A few reads per wake-up at most, so one busy connection cannot starve the others.
        for (int round = 0; round < 4; ++round) {
            auto n = ::recv(side.fd, buf, sizeof buf, 0);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
            auto now = Clock::now();
            if (n > 0) {
                c.last_activity = now;
                if (c.blackholed) continue;  // swallowed
                push(c, s,
                     Chunk{now, Chunk::Data, std::string(buf, static_cast<std::size_t>(n)), 0});
                if (c.dir[s].queued >= window_) {
                    side.reading = false;  // resumes when the queue drains below the window
                    break;
                }
                continue;
            }
            side.read_done = true;
            if (!c.blackholed) push(c, s, Chunk{now, n == 0 ? Chunk::Fin : Chunk::Reset, {}, 0});
            break;
        }
        update_interest(c, s);
        if (c.blackholed) maybe_close_blackholed(c);
    }

    // Queues a chunk read from side s at chunk.due (or, at_exact, to deliver at chunk.due).
    void push(Connection& c, int s, Chunk chunk, bool at_exact = false) {
        Direction& d = c.dir[s];
        if (!at_exact) chunk.due = std::max(chunk.due, c.open_at) + delay_;
        chunk.due = std::max(chunk.due, d.last_due);  // order is kept even if the clock jumps
        d.last_due = chunk.due;
        d.queued += chunk.bytes.size();
        d.queue.push_back(std::move(chunk));
        if (!d.timer_armed) {
            d.timer_armed = true;
            timers_.push(Timer{d.queue.front().due, c.id, s});
        }
    }

    void arm_idle_timer(Connection& c) {
        if (blackhole_idle_ <= Duration::zero() || c.idle_timer_armed || c.blackholed) return;
        c.idle_timer_armed = true;
        timers_.push(Timer{c.last_activity + blackhole_idle_, c.id, 2});
    }

    void run_timers() {
        for (;;) {
            if (timers_.empty()) return;
            auto now = Clock::now();
            Timer t = timers_.top();
            if (t.due > now) return;
            timers_.pop();
            Connection* c = find(t.id);
            if (!c) continue;
            if (t.what == 2) {
                c->idle_timer_armed = false;
                if (c->blackholed) continue;
                // Bytes on their way (queued, not yet written) count as moving.
                if (!c->dir[0].queue.empty() || !c->dir[1].queue.empty()) c->last_activity = now;
                if (now - c->last_activity >= blackhole_idle_)
                    blackhole(*c);
                else
                    arm_idle_timer(*c);
                continue;
            }
            c->dir[t.what].timer_armed = false;
            flush(*c, t.what);
        }
    }

    // Writes the due head chunks of dir[s] to side[1 - s].
    void flush(Connection& c, int s) {
        Direction& d = c.dir[s];
        Side& to = c.side[1 - s];
        auto now = Clock::now();
        while (!d.queue.empty() && !c.blackholed) {
            Chunk& ch = d.queue.front();
            if (ch.due > now) {
                if (!d.timer_armed) {
                    d.timer_armed = true;
                    timers_.push(Timer{ch.due, c.id, s});
                }
                return;
            }
            if (c.connecting || to.write_blocked) return;  // resumed by connected() / EPOLLOUT
            if (ch.kind == Chunk::Reset) {
                close_connection(c, /*reset=*/true);
                return;
            }
            if (ch.kind == Chunk::Fin) {
                shutdown(to.fd, SHUT_WR);
                d.queue.pop_front();
                if (c.side[0].read_done && c.side[1].read_done && c.dir[0].queue.empty() &&
                    c.dir[1].queue.empty()) {
                    close_connection(c, false);
                    return;
                }
                continue;
            }
            auto n = ::send(to.fd, ch.bytes.data() + ch.offset, ch.bytes.size() - ch.offset,
                            MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    to.write_blocked = true;
                    update_interest(c, 1 - s);
                    return;
                }
                // The destination is gone (reset): its peer hears a reset one delay later,
                // and what was still on its way to it is dropped.
                drop_queue(c, s);
                to.read_done = true;
                update_interest(c, 1 - s);
                push(c, 1 - s, Chunk{now, Chunk::Reset, {}, 0});
                return;
            }
            c.last_activity = now;
            ch.offset += static_cast<std::size_t>(n);
            d.queued -= static_cast<std::size_t>(n);
            if (ch.offset < ch.bytes.size()) continue;
            d.queue.pop_front();
            Side& from = c.side[s];
            if (!from.reading && !from.read_done && d.queued < window_ / 2) {
                from.reading = true;
                update_interest(c, s);
            }
        }
    }

    void drop_queue(Connection& c, int s) {
        c.dir[s].queue.clear();
        c.dir[s].queued = 0;
    }

    void blackhole(Connection& c) {
        c.blackholed = true;
        for (int s = 0; s < 2; ++s) {
            drop_queue(c, s);
            c.side[s].reading = true;  // keep draining (and discarding) both sides
            c.side[s].write_blocked = false;
            update_interest(c, s);
        }
        maybe_close_blackholed(c);
    }

    // A blackholed connection goes away once both peers have closed theirs.
    void maybe_close_blackholed(Connection& c) {
        if (c.side[0].read_done && c.side[1].read_done) close_connection(c, false);
    }

    static void abort_fd(int fd) {
        linger l{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        close(fd);
    }

    void close_connection(Connection& c, bool reset) {
        for (auto& side : c.side) {
            if (side.fd < 0) continue;
            if (side.registered) epoll_ctl(ep_, EPOLL_CTL_DEL, side.fd, nullptr);
            if (reset)
                abort_fd(side.fd);
            else
                close(side.fd);
            side.fd = -1;
        }
        conns_.erase(c.id);  // timers naming this id are skipped when they fire
    }

    void arm_timerfd() {
        for (;;) {
            // Drop stale heads (connections gone) so the timerfd is not armed for nothing, and
            // run what is already due: only a future deadline is armed.
            while (!timers_.empty() && !find(timers_.top().id)) timers_.pop();
            if (timers_.empty() || timers_.top().due > Clock::now()) break;
            run_timers();
        }
        itimerspec its{};
        if (!timers_.empty()) {
            auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          timers_.top().due.time_since_epoch())
                          .count();
            if (ns <= 0) ns = 1;
            its.it_value.tv_sec = ns / 1000000000;
            its.it_value.tv_nsec = ns % 1000000000;
        }
        // The armed deadline is in the future, so an unchanged one is still pending.
        if (its.it_value.tv_sec == armed_.tv_sec && its.it_value.tv_nsec == armed_.tv_nsec) return;
        armed_ = its.it_value;
        timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
    }

    sockaddr_in target_;
    Duration delay_;
    Duration blackhole_idle_;
    std::size_t window_;
    std::size_t max_conns_;
    int listener_ = -1, ep_ = -1, timer_fd_ = -1;
    std::uint64_t next_id_ = 0;
    std::unordered_map<std::uint64_t, Connection> conns_;
    std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_;
    timespec armed_{};
};

[[noreturn]] void usage() {
    std::fprintf(
        stderr,
        "usage: bench_delay_relay --target 127.0.0.1:PORT [--listen 127.0.0.1:0] [--delay-ms 25]\n"
        "                         [--blackhole-idle SECONDS] [--window BYTES] [--max-connections "
        "N]\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string listen_at = "127.0.0.1:0", target;
    double delay_ms = 25, blackhole_s = 0, window = 8 << 20, max_conns = 50000;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc) usage();
        std::string v = argv[++i];
        if (a == "--listen")
            listen_at = v;
        else if (a == "--target")
            target = v;
        else if (a == "--delay-ms")
            delay_ms = parse_number(a, v);
        else if (a == "--blackhole-idle")
            blackhole_s = parse_number(a, v);
        else if (a == "--window")
            window = std::max(65536.0, parse_number(a, v));
        else if (a == "--max-connections")
            max_conns = std::max(1.0, parse_number(a, v));
        else
            usage();
    }
    if (target.empty()) usage();
    signal(SIGPIPE, SIG_IGN);
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    rlimit l{};
    if (getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
        l.rlim_cur = l.rlim_max;
        setrlimit(RLIMIT_NOFILE, &l);
    }
    auto to_duration = [](double seconds) {
        return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
    };
    Relay relay(parse_address(target), to_duration(delay_ms / 1000), to_duration(blackhole_s),
                static_cast<std::size_t>(window), static_cast<std::size_t>(max_conns));
    relay.run(parse_address(listen_at));
}
