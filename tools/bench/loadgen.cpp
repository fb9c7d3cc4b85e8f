// Benchmark load generator and target, shared by every system tools/bench/run compares.
//
// One binary, two roles, plain POSIX sockets on purpose (no reactor of ours on the measuring
// side, so every system under test is driven by exactly the same code):
//
//   bench_loadgen target [--listen 127.0.0.1:0]
//       The sink / source / echo target on 127.0.0.1: one epoll thread. Each connection starts
//       with a 9-byte command: a mode byte and a big-endian u64 argument.
//         'S' n  sink: read n bytes, then answer one byte (so the sender times delivery);
//         'D' n  source: write n bytes;
//         'E' 0  echo: write back whatever arrives, until the peer closes.
//       Prints "listening on 127.0.0.1:PORT" once bound; serves until killed.
//
//   bench_loadgen bulk|parallel|latency|hold --target 127.0.0.1:PORT [--socks 127.0.0.1:PORT] ...
//       Drives streams to the target, through a SOCKS5 entry (--socks) or directly (the plain
//       TCP baseline). Prints key=value results on stdout.
//         bulk     --bytes N             one stream uploads N, then another downloads N
//         parallel --streams K --bytes N K streams at once, each uploading then downloading
//                                        N/K; the streams are open before the clock starts
//         latency  --streams K           K streams one after another: connect to first echoed
//                                        byte, p50/p99 in microseconds (after --warmup N warm-up
//                                        streams, default 20); --concurrency C runs C at a time
//                                        (C = K: a burst, all opened at once); --failures count
//                                        counts a failed stream (an error, or no echo within
//                                        --timeout) instead of exiting; it counts as slower than
//                                        any other, and a percentile that falls on one is -1
//         hold     --streams K           opens K echo streams (each proven open by one echoed
//                                        byte) and keeps them; prints "open K", waits for a line
//                                        on stdin, closes them all, prints "closed", waits for
//                                        a line or EOF, exits. The runner reads the entry's RSS
//                                        in between.
//       --close fin|rst: how latency and hold streams end, close() (FIN, the default) or an
//       abortive close (SO_LINGER 0: a reset).
//
// Every stream has a deadline (--timeout SECONDS, 60 by default) for its open and echo, and
// every socket wait a timeout of as long; a failure is one sentence on stderr and exit 1.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ipv4_address.hpp"

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kChunk = 256 * 1024;

// Failures are thrown, so that --failures count can count a failed stream and go on; main()
// and every thread body report an uncaught one and exit 1.
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

[[noreturn]] void fail(const std::string& what) { throw Failure(what); }

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "bench_loadgen: %s\n", what);
    std::exit(1);
}

// Runs fn in a thread body: an uncaught failure there ends the process with its message.
template <typename Fn>
void guarded(Fn&& fn) {
    try {
        fn();
    } catch (const std::exception& e) {
        die(e.what());
    }
}

[[noreturn]] void fail_errno(const std::string& what) { fail(what + ": " + std::strerror(errno)); }

sockaddr_in parse_address(const std::string& text) {
    std::string why;
    auto address = anytls::bench::parse_ipv4_address(text, &why);
    if (!address) fail(why);
    return *address;
}

std::size_t parse_size(const std::string& text) {
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    std::string unit(end);
    if (unit == "K" || unit == "KiB")
        v *= 1024;
    else if (unit == "M" || unit == "MiB")
        v *= 1024 * 1024;
    else if (unit == "G" || unit == "GiB")
        v *= 1024.0 * 1024 * 1024;
    else if (!unit.empty())
        fail("size \"" + text + "\" has an unknown unit (K, M or G)");
    return static_cast<std::size_t>(v);
}

void raise_fd_limit() {
    rlimit l{};
    if (getrlimit(RLIMIT_NOFILE, &l) == 0 && l.rlim_cur < l.rlim_max) {
        l.rlim_cur = l.rlim_max;
        setrlimit(RLIMIT_NOFILE, &l);
    }
}

// ---------------------------------------------------------------------------------------------
// The target.

struct TargetConnection {
    unsigned char header[9];
    std::size_t header_length = 0;
    char mode = 0;
    std::uint64_t remaining = 0;
    std::string pending;  // echo bytes not yet written back
    std::uint32_t interest = EPOLLIN;
};

int run_target(const std::string& listen_at) {
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = parse_address(listen_at);
    if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        fail_errno("cannot bind " + listen_at);
    if (listen(l, 4096) != 0) fail_errno("cannot listen");
    socklen_t len = sizeof a;
    getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
    std::printf("listening on 127.0.0.1:%u\n", ntohs(a.sin_port));
    std::fflush(stdout);

    int ep = epoll_create1(0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = l;
    epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
    std::unordered_map<int, TargetConnection> conns;
    static std::vector<char> buffer(kChunk);
    static const std::vector<char> source(kChunk, 'x');

    auto close_conn = [&](int fd) {
        epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        close(fd);
        conns.erase(fd);
    };
    auto want = [&](int fd, TargetConnection& c, std::uint32_t events) {
        if (c.interest == events) return;  // no system call when nothing changes
        c.interest = events;
        epoll_event e{};
        e.events = events;
        e.data.fd = fd;
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &e);
    };
    // Writes what the connection owes (source bytes or echo bytes); false when it must close.
    auto flush = [&](int fd, TargetConnection& c) -> bool {
        if (c.mode == 'D') {
            while (c.remaining > 0) {
                auto n = ::send(fd, source.data(),
                                std::min<std::uint64_t>(c.remaining, source.size()), MSG_NOSIGNAL);
                if (n < 0) return errno == EAGAIN;
                c.remaining -= static_cast<std::uint64_t>(n);
            }
        } else if (c.mode == 'E') {
            while (!c.pending.empty()) {
                auto n = ::send(fd, c.pending.data(), c.pending.size(), MSG_NOSIGNAL);
                if (n < 0) return errno == EAGAIN;
                c.pending.erase(0, static_cast<std::size_t>(n));
            }
        }
        return true;
    };
    // Consumes bytes read from the connection; false when it must close.
    auto consume = [&](int fd, TargetConnection& c, const char* p, std::size_t n) -> bool {
        while (n > 0 && c.header_length < sizeof c.header) {
            c.header[c.header_length++] = static_cast<unsigned char>(*p++);
            --n;
            if (c.header_length == sizeof c.header) {
                c.mode = static_cast<char>(c.header[0]);
                c.remaining = 0;
                for (int i = 1; i < 9; ++i) c.remaining = (c.remaining << 8) | c.header[i];
                if (c.mode != 'S' && c.mode != 'D' && c.mode != 'E') return false;
                if (c.mode == 'S' && c.remaining == 0) {
                    char ack = 'k';
                    if (::send(fd, &ack, 1, MSG_NOSIGNAL) != 1) return false;
                }
            }
        }
        if (n == 0) return true;
        if (c.mode == 'S') {
            if (n > c.remaining) return false;  // more than announced
            c.remaining -= n;
            if (c.remaining == 0) {
                char ack = 'k';
                if (::send(fd, &ack, 1, MSG_NOSIGNAL) != 1) return false;
            }
        } else if (c.mode == 'E') {
            c.pending.append(p, n);
        }
        return true;
    };

    std::vector<epoll_event> events(1024);
    for (;;) {
        int k = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
        if (k < 0) {
            if (errno == EINTR) continue;
            fail_errno("epoll_wait");
        }
        for (int i = 0; i < k; ++i) {
            int fd = events[i].data.fd;
            if (fd == l) {
                for (;;) {
                    int s = accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
                    if (s < 0) break;
                    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conns[s] = TargetConnection{};
                    epoll_event e{};
                    e.events = EPOLLIN;
                    e.data.fd = s;
                    epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
                }
                continue;
            }
            auto it = conns.find(fd);
            if (it == conns.end()) continue;
            auto& c = it->second;
            bool ok = true;
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                auto n = ::recv(fd, buffer.data(), buffer.size(), 0);
                if (n == 0 || (n < 0 && errno != EAGAIN))
                    ok = false;
                else if (n > 0)
                    ok = consume(fd, c, buffer.data(), static_cast<std::size_t>(n));
            }
            if (ok) ok = flush(fd, c);
            if (!ok) {
                close_conn(fd);
                continue;
            }
            bool owes = (c.mode == 'D' && c.remaining > 0) || (c.mode == 'E' && !c.pending.empty());
            // While it owes bytes, stop reading (echo back-pressure) and wait to write.
            want(fd, c, owes ? (c.mode == 'D' ? EPOLLIN | EPOLLOUT : EPOLLOUT) : EPOLLIN);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The load generator.

struct Options {
    std::string target = "127.0.0.1:9";
    std::string socks;  // empty: connect directly
    std::size_t bytes = std::size_t(1) << 30;
    std::size_t streams = 64;
    std::size_t threads = 8;
    bool abort_close = false;  // --close rst: end streams with a reset instead of a FIN
    std::size_t warmup = 20;
    std::size_t concurrency = 1;
    double timeout_s = 60;
    bool count_failures = false;  // --failures count
};

double g_timeout_s = 60;

void set_timeouts(int fd) {
    timeval tv{static_cast<time_t>(g_timeout_s),
               static_cast<suseconds_t>((g_timeout_s - static_cast<time_t>(g_timeout_s)) * 1e6)};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void write_all(int fd, const void* data, std::size_t n, const char* what) {
    auto p = static_cast<const char*>(data);
    while (n > 0) {
        auto w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            fail_errno(std::string("cannot send ") + what);
        }
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

// No deadline: only the socket's receive timeout bounds each wait.
constexpr Clock::time_point kNoDeadline = Clock::time_point::max();

void read_exact(int fd, void* data, std::size_t n, const char* what,
                Clock::time_point deadline = kNoDeadline) {
    auto p = static_cast<char*>(data);
    while (n > 0) {
        if (deadline != kNoDeadline) {
            auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                    .count();
            pollfd pfd{fd, POLLIN, 0};
            int k = left > 0 ? ::poll(&pfd, 1, static_cast<int>(std::min<long long>(left, 1 << 30)))
                             : 0;
            if (k < 0 && errno == EINTR) continue;
            if (k == 0) fail(std::string("timed out reading ") + what);
        }
        auto r = ::recv(fd, p, n, 0);
        if (r == 0) fail(std::string("the connection closed while reading ") + what);
        if (r < 0) {
            if (errno == EINTR) continue;
            fail_errno(std::string("cannot read ") + what);
        }
        p += r;
        n -= static_cast<std::size_t>(r);
    }
}

// Closes a descriptor when a failure unwinds past it.
struct FdGuard {
    int fd;
    ~FdGuard() {
        if (fd >= 0) close(fd);
    }
    int release() { return std::exchange(fd, -1); }
};

// A stream to the target: TCP to the SOCKS5 entry and a CONNECT, or TCP to the target itself.
int open_stream(const Options& o, Clock::time_point deadline = kNoDeadline) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) fail_errno("cannot create a socket");
    FdGuard guard{fd};
    set_timeouts(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto target = parse_address(o.target);
    auto to = o.socks.empty() ? target : parse_address(o.socks);
    if (connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0)
        fail_errno("cannot connect to " + (o.socks.empty() ? o.target : o.socks));
    if (o.socks.empty()) return guard.release();
    const unsigned char greeting[] = {5, 1, 0};
    write_all(fd, greeting, sizeof greeting, "the SOCKS5 greeting");
    unsigned char reply[2];
    read_exact(fd, reply, 2, "the SOCKS5 method reply", deadline);
    if (reply[0] != 5 || reply[1] != 0)
        fail("the SOCKS5 entry refused the no-authentication method");
    unsigned char request[10] = {5, 1, 0, 1};
    std::memcpy(request + 4, &target.sin_addr, 4);
    std::memcpy(request + 8, &target.sin_port, 2);
    write_all(fd, request, sizeof request, "the SOCKS5 CONNECT");
    unsigned char head[4];
    read_exact(fd, head, 4, "the SOCKS5 CONNECT reply", deadline);
    if (head[1] != 0)
        fail("the SOCKS5 entry answered CONNECT with error " + std::to_string(head[1]));
    std::size_t rest = head[3] == 1 ? 6 : head[3] == 4 ? 18 : 0;
    if (head[3] == 3) {
        unsigned char len;
        read_exact(fd, &len, 1, "the SOCKS5 reply address", deadline);
        rest = len + 2u;
    }
    unsigned char skip[260];
    read_exact(fd, skip, rest, "the SOCKS5 reply address", deadline);
    return guard.release();
}

void send_command(int fd, char mode, std::uint64_t arg) {
    unsigned char h[9];
    h[0] = static_cast<unsigned char>(mode);
    for (int i = 8; i >= 1; --i, arg >>= 8) h[i] = static_cast<unsigned char>(arg & 0xff);
    write_all(fd, h, sizeof h, "the target command");
}

void upload(int fd, std::size_t n) {
    static const std::vector<char> data(kChunk, 'u');
    send_command(fd, 'S', n);
    while (n > 0) {
        auto k = std::min(n, data.size());
        write_all(fd, data.data(), k, "upload bytes");
        n -= k;
    }
    char ack;
    read_exact(fd, &ack, 1, "the sink's acknowledgement");
}

void download(int fd, std::size_t n) {
    std::vector<char> buf(kChunk);
    send_command(fd, 'D', n);
    while (n > 0) {
        auto r = ::recv(fd, buf.data(), std::min(n, buf.size()), 0);
        if (r == 0) fail("the connection closed during the download");
        if (r < 0) {
            if (errno == EINTR) continue;
            fail_errno("cannot read download bytes");
        }
        n -= static_cast<std::size_t>(r);
    }
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

int run_bulk(const Options& o) {
    int up = open_stream(o);
    auto t0 = Clock::now();
    upload(up, o.bytes);
    double up_s = seconds_since(t0);
    close(up);
    int down = open_stream(o);
    t0 = Clock::now();
    download(down, o.bytes);
    double down_s = seconds_since(t0);
    close(down);
    std::printf("bytes=%zu up_mb_per_s=%.1f down_mb_per_s=%.1f\n", o.bytes, o.bytes / up_s / 1e6,
                o.bytes / down_s / 1e6);
    return 0;
}

int run_parallel_streams(const Options& o) {
    std::size_t per = o.bytes / o.streams;
    // Each worker owns two open streams: one uploads per bytes, the other downloads per bytes.
    std::vector<std::pair<int, int>> pairs;
    for (std::size_t i = 0; i < o.streams; ++i) pairs.emplace_back(open_stream(o), open_stream(o));
    std::atomic<std::size_t> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (auto [up, down] : pairs)
        threads.emplace_back([up = up, down = down, per, &go, &ready] {
            ready++;
            while (!go.load()) std::this_thread::yield();
            guarded([&] {
                upload(up, per);
                download(down, per);
            });
        });
    while (ready.load() < pairs.size()) std::this_thread::yield();
    auto t0 = Clock::now();
    go = true;
    for (auto& t : threads) t.join();
    double s = seconds_since(t0);
    for (auto [up, down] : pairs) {
        close(up);
        close(down);
    }
    std::printf("streams=%zu bytes=%zu aggregate_mb_per_s=%.1f\n", o.streams, 2 * per * o.streams,
                2.0 * per * o.streams / s / 1e6);
    return 0;
}

void close_stream(const Options& o, int fd) {
    if (o.abort_close) {
        linger l{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(fd);
}

// Open, send one byte, wait for it to come back: proves the stream reaches the target.
double open_and_echo(const Options& o, int* keep) {
    auto t0 = Clock::now();
    auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double>(o.timeout_s));
    FdGuard fd{open_stream(o, deadline)};
    send_command(fd.fd, 'E', 0);
    char b = 'e';
    write_all(fd.fd, &b, 1, "the echo byte");
    read_exact(fd.fd, &b, 1, "the echoed byte", deadline);
    double us = seconds_since(t0) * 1e6;
    if (keep)
        *keep = fd.release();
    else
        close_stream(o, fd.release());
    return us;
}

int run_latency(const Options& o) {
    for (std::size_t i = 0; i < o.warmup; ++i) open_and_echo(o, nullptr);
    // Slot i holds stream i's latency, or -1 when it failed (--failures count).
    std::vector<double> us(o.streams, -1);
    std::vector<std::string> errors(o.streams);
    std::atomic<std::size_t> next{0}, ready{0};
    std::atomic<bool> go{false};
    std::size_t workers = std::min(std::max<std::size_t>(1, o.concurrency), o.streams);
    auto work = [&] {
        ready++;
        while (!go.load()) std::this_thread::yield();
        for (;;) {
            auto i = next++;
            if (i >= us.size()) return;
            try {
                us[i] = open_and_echo(o, nullptr);
            } catch (const Failure& e) {
                if (!o.count_failures) throw;
                errors[i] = e.what();
            }
        }
    };
    if (workers == 1) {
        go = true;
        work();
    } else {
        // All workers start together: with C = K the K streams are opened at once.
        std::vector<std::thread> threads;
        for (std::size_t t = 0; t < workers; ++t) threads.emplace_back([&] { guarded(work); });
        while (ready.load() < workers) std::this_thread::yield();
        go = true;
        for (auto& t : threads) t.join();
    }
    double first = us[0];
    std::vector<double> ok;
    std::size_t failed = 0;
    for (std::size_t i = 0; i < us.size(); ++i) {
        if (us[i] >= 0)
            ok.push_back(us[i]);
        else {
            ++failed;
            std::fprintf(stderr, "bench_loadgen: stream %zu failed: %s\n", i + 1,
                         errors[i].c_str());
        }
    }
    // A failed stream counts as slower than every one that worked: a percentile that falls on
    // one prints as -1.
    std::sort(ok.begin(), ok.end());
    auto at = [&](double q) {
        auto i = std::min(us.size() - 1, static_cast<std::size_t>(q * us.size()));
        return i < ok.size() ? ok[i] : -1.0;
    };
    std::printf("streams=%zu failed=%zu p50_us=%.1f p99_us=%.1f max_us=%.1f first_us=%.1f\n",
                o.streams, failed, at(0.50), at(0.99), failed || ok.empty() ? -1.0 : ok.back(),
                first);
    return 0;
}

int run_hold(const Options& o) {
    std::vector<int> fds(o.streams, -1);
    std::atomic<std::size_t> next{0};
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < std::max<std::size_t>(1, o.threads); ++t)
        threads.emplace_back([&] {
            guarded([&] {
                for (;;) {
                    auto i = next++;
                    if (i >= fds.size()) return;
                    open_and_echo(o, &fds[i]);
                }
            });
        });
    for (auto& t : threads) t.join();
    std::printf("open %zu\n", fds.size());
    std::fflush(stdout);
    std::string line;
    std::getline(std::cin, line);
    for (int fd : fds) close_stream(o, fd);
    std::printf("closed\n");
    std::fflush(stdout);
    std::getline(std::cin, line);
    return 0;
}

[[noreturn]] void usage() {
    std::fprintf(
        stderr,
        "usage: bench_loadgen target [--listen 127.0.0.1:0]\n"
        "       bench_loadgen bulk|parallel|latency|hold --target ADDR [--socks ADDR]\n"
        "                     [--bytes N[K|M|G]] [--streams N] [--threads N] [--close fin|rst]\n"
        "                     [--warmup N] [--concurrency N] [--timeout SECONDS] [--failures "
        "fatal|count]\n");
    std::exit(2);
}

}  // namespace

int run(int argc, char** argv) {
    if (argc < 2) usage();
    std::string role = argv[1];
    Options o;
    std::string listen_at = "127.0.0.1:0";
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (i + 1 >= argc) usage();
        std::string v = argv[++i];
        if (a == "--listen")
            listen_at = v;
        else if (a == "--target")
            o.target = v;
        else if (a == "--socks")
            o.socks = v;
        else if (a == "--bytes")
            o.bytes = parse_size(v);
        else if (a == "--streams")
            o.streams = std::max<std::size_t>(1, parse_size(v));
        else if (a == "--threads")
            o.threads = parse_size(v);
        else if (a == "--close" && (v == "fin" || v == "rst"))
            o.abort_close = v == "rst";
        else if (a == "--warmup")
            o.warmup = parse_size(v);
        else if (a == "--concurrency")
            o.concurrency = std::max<std::size_t>(1, parse_size(v));
        else if (a == "--timeout")
            o.timeout_s = std::max(0.001, std::strtod(v.c_str(), nullptr));
        else if (a == "--failures" && (v == "fatal" || v == "count"))
            o.count_failures = v == "count";
        else
            usage();
    }
    g_timeout_s = o.timeout_s;
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (role == "target") return run_target(listen_at);
    if (role == "bulk") return run_bulk(o);
    if (role == "parallel") return run_parallel_streams(o);
    if (role == "latency") return run_latency(o);
    if (role == "hold") return run_hold(o);
    usage();
}

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        die(e.what());
    }
}
