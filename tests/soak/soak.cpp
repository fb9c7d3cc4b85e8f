// Soak (docs/RELIABILITY.md, "Soak"): many streams of random sizes through a rotating pool against
// the real `anytls server` process and a local echo target, every byte SHA-256 verified; afterwards
// the process's open file descriptors and resident memory must be back at their baseline.
//
//     soak [--streams N] [--max-size BYTES] [--seconds S] [--concurrency C] [--seed X]
//          [--rss-tolerance PERCENT] [--no-rss-check] [--anytls PATH]
//
// The full run (docs/RELIABILITY.md, "Soak"):
//     ANYTLS_EXE=build/tools/anytls/anytls build/tests/soak/soak --streams 20000 --max-size 4194304 --seconds 300
// The test suite runs a scaled version (tests/soak/meson.build).
//
// Sizes are log-uniform in [1, max-size] (each order of magnitude equally likely), so the run
// holds many tiny streams and a steady share of multi-megabyte ones. Streams are paced over
// --seconds: stream i starts no earlier than i * seconds / streams (a slow machine only makes
// the run longer). The pool rotates fast: sessions live 3 s +- 1 s, idle ones time out after
// 2 s, cleanup runs every second and keeps 2 sessions warm (rate 2 per cycle).
//
// Baseline and final figures are taken the same way: the pool is told to keep nothing warm,
// the program waits until the pool is empty and the fd count settles, malloc_trim(0) gives
// freed heap pages back (so the figure is what the process holds, not what the allocator
// caches; one malloc arena, see main), then /proc/self/fd and /proc/self/statm are read. The baseline follows a warm-up
// of 2 streams per worker at the maximum size plus a spread of smaller ones (5% of the run, at
// least 100), so the allocator's per-thread arenas and every lazily built structure exist.
// Under a sanitizer, RSS is reported only (--no-rss-check: the sanitizer's quarantine holds
// freed memory by design).
//
// Exit status: 0 all verified and back at baseline, 1 otherwise (with the reason), 2 usage.
#include <dirent.h>
#include <malloc.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <optional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "client/client.hpp"
#include "io/reactor_thread.hpp"
#include "io/tcp.hpp"
#include "log/log.hpp"
#include "proto/digest.hpp"
#include "support/echo_service.hpp"
#include "support/server_process.hpp"
#include "support/test_certs.hpp"

using namespace anytls;
using namespace std::chrono_literals;

namespace {

struct Options {
    std::uint64_t streams = 1500;
    std::uint64_t max_size = 1 << 20;
    double seconds = 30;
    unsigned concurrency = 8;
    std::uint64_t seed = 1;
    double rss_tolerance = 5;
    bool rss_check = true;
    std::string anytls;
};

[[noreturn]] void usage(const char* message) {
    std::fprintf(
        stderr,
        "soak: %s\nusage: soak [--streams N] [--max-size BYTES] [--seconds S] [--concurrency C] "
        "[--seed X] [--rss-tolerance PERCENT] [--no-rss-check] [--anytls PATH]\n",
        message);
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    if (const char* exe = std::getenv("ANYTLS_EXE")) o.anytls = exe;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value after " + arg).c_str());
            return argv[++i];
        };
        try {
            if (arg == "--streams")
                o.streams = std::stoull(value());
            else if (arg == "--max-size")
                o.max_size = std::stoull(value());
            else if (arg == "--seconds")
                o.seconds = std::stod(value());
            else if (arg == "--concurrency")
                o.concurrency = static_cast<unsigned>(std::stoul(value()));
            else if (arg == "--seed")
                o.seed = std::stoull(value());
            else if (arg == "--rss-tolerance")
                o.rss_tolerance = std::stod(value());
            else if (arg == "--no-rss-check")
                o.rss_check = false;
            else if (arg == "--anytls")
                o.anytls = value();
            else
                usage(("unknown argument " + arg).c_str());
        } catch (const std::logic_error&) {
            usage(("not a number after " + arg).c_str());
        }
    }
    if (o.streams == 0 || o.max_size == 0 || o.concurrency == 0 || o.seconds < 0)
        usage("values must be positive");
    if (o.anytls.empty()) usage("name the anytls binary with --anytls or ANYTLS_EXE");
    return o;
}

std::size_t open_fds() {
    std::size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (auto* e = ::readdir(d)) n += e->d_name[0] != '.';
        ::closedir(d);
        --n;  // the directory stream itself
    }
    return n;
}

std::size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::size_t size = 0, resident = 0;
    statm >> size >> resident;
    return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::string mib(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.1f MiB", bytes / (1024.0 * 1024.0));
    return buf;
}

struct Totals {
    std::atomic<std::uint64_t> verified{0};
    std::atomic<std::uint64_t> failed{0};
    std::atomic<std::uint64_t> bytes{0};
    std::mutex first_error_mutex;
    std::string first_error;

    void failure(std::uint64_t index, const std::string& why) {
        ++failed;
        std::lock_guard lock(first_error_mutex);
        if (first_error.empty()) first_error = "stream " + std::to_string(index) + ": " + why;
    }
};

// One stream: `size` bytes from a per-stream generator written by a helper thread while this
// thread reads the echo back (writing everything first would stall on backpressure once the
// echo fills the buffers); both sides SHA-256 digested and compared.
void one_stream(client::Client& client, std::uint16_t echo_port, std::uint64_t index,
                std::uint64_t size, std::uint64_t seed, Totals& totals) {
    std::vector<std::byte> data(size);
    std::mt19937_64 rng(seed ^ (index * 0x9e3779b97f4a7c15ULL));
    for (std::size_t i = 0; i < size; i += 8) {
        std::uint64_t word = rng();
        std::memcpy(data.data() + i, &word, std::min<std::size_t>(8, size - i));
    }
    auto opened = client.open_stream("soak", "127.0.0.1", echo_port, 20s);
    if (!opened) return totals.failure(index, "open: " + opened.error().text());
    auto& stream = *opened.value();
    Result<void> written;
    std::thread writer([&] { written = stream.write(data, 30s); });
    std::vector<std::byte> back;
    back.reserve(size);
    std::vector<std::byte> buffer(64 * 1024);
    std::string read_error;
    while (back.size() < size) {
        auto n = stream.read(buffer, 30s);
        if (!n) {
            read_error = n.error().text();
            break;
        }
        if (*n == 0) {
            read_error = "end of stream after " + std::to_string(back.size()) + " bytes";
            break;
        }
        back.insert(back.end(), buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(*n));
    }
    writer.join();
    (void)stream.close();
    if (!written) return totals.failure(index, "write: " + written.error().text());
    if (!read_error.empty()) return totals.failure(index, "read: " + read_error);
    auto as_u8 = [](const std::vector<std::byte>& v) {
        return std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(v.data()),
                                             v.size());
    };
    auto sent = proto::sha256(as_u8(data));
    auto received = proto::sha256(as_u8(back));
    if (!sent || !received || sent.value() != received.value())
        return totals.failure(index, "SHA-256 of the echo differs from what was sent");
    ++totals.verified;
    totals.bytes += size;
}

// Log-uniform in [1, max]: exp of a uniform draw in [0, ln(max + 1)).
std::uint64_t draw_size(std::mt19937_64& rng, std::uint64_t max) {
    std::uniform_real_distribution<double> u(0.0, std::log(static_cast<double>(max) + 1.0));
    auto size = static_cast<std::uint64_t>(std::exp(u(rng)));
    return std::clamp<std::uint64_t>(size, 1, max);
}

// Runs `count` streams on `concurrency` threads, stream i not before start + i * spacing.
void run_streams(client::Client& client, std::uint16_t echo_port,
                 const std::vector<std::uint64_t>& sizes, unsigned concurrency,
                 std::chrono::duration<double> spacing, std::uint64_t seed, Totals& totals) {
    std::atomic<std::uint64_t> next{0};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> workers;
    for (unsigned w = 0; w < concurrency; ++w) {
        workers.emplace_back([&] {
            for (;;) {
                std::uint64_t i = next++;
                if (i >= sizes.size()) return;
                std::this_thread::sleep_until(
                    start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                spacing * static_cast<double>(i)));
                one_stream(client, echo_port, i, sizes[i], seed, totals);
            }
        });
    }
    for (auto& t : workers) t.join();
}

struct Footprint {
    std::size_t fds = 0;
    std::size_t rss = 0;
    std::size_t heap_in_use = 0;  // malloc'd and not freed (mallinfo2: arenas + mmapped chunks)
};

std::size_t heap_in_use() {
    struct mallinfo2 info = ::mallinfo2();
    return info.uordblks + info.hblkhd;
}

// Empties the pool (keep nothing warm), waits for the pool and the fd count to settle, then
// measures. `expect_fds`: wait (up to the deadline) for exactly this many.
Footprint settle(client::Client& client, std::optional<std::size_t> expect_fds) {
    auto settings = client.pool_settings("soak");
    if (settings) {
        auto quiet = settings.value();
        quiet.ensure_idle_session = 0;
        (void)client.set_pool_settings("soak", quiet);
    }
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    std::size_t last = 0, same = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        auto stats = client.stats("soak");
        bool empty = stats && stats->idle == 0 && stats->busy == 0 && stats->creating == 0;
        std::size_t fds = open_fds();
        same = fds == last ? same + 1 : 0;
        last = fds;
        if (empty && (expect_fds ? fds <= *expect_fds : same >= 5)) break;
        std::this_thread::sleep_for(200ms);
    }
    if (settings) (void)client.set_pool_settings("soak", settings.value());
    ::malloc_trim(0);
    return {open_fds(), resident_bytes(), heap_in_use()};
}

}  // namespace

int main(int argc, char** argv) {
    Options options = parse(argc, argv);
    // One malloc arena: glibc gives each thread that allocates its own arena and keeps those
    // arenas' pages even after malloc_trim, so with a writer thread per stream the RSS would
    // measure the allocator's per-thread caches rather than what the library holds. The heap
    // in use (mallinfo2) is reported beside it.
    ::mallopt(M_ARENA_MAX, 1);
    ::signal(SIGPIPE, SIG_IGN);
    log::set_level(log::Level::warn);

    const auto& pki = test::test_pki();
    std::string server_toml = pki.dir + "/soak-server.toml";
    std::ofstream(server_toml) << "listen = \"127.0.0.1:0\"\ncertificate = \"" << pki.server_cert
                               << "\"\nprivate-key = \"" << pki.server_key
                               << "\"\nlog-level = \"warning\"\n[[users]]\nname = "
                                  "\"soak\"\npassword = \"soak password\"\n";
    test::ServerProcess server;
    if (std::string why; !server.start(options.anytls, server_toml, &why)) {
        std::fprintf(stderr, "soak: anytls server (%s) did not start: %s\n", options.anytls.c_str(),
                     why.c_str());
        return 1;
    }

    io::ReactorThread echo_thread;
    io::TcpListener echo;
    bool listening = false;
    echo_thread.call([&] {
        auto l = io::TcpListener::listen(io::SocketAddress::loopback_v4(0));
        if (!l) return;
        echo = std::move(l).value();
        listening = true;
        echo_thread.reactor().spawn(test::echo_accept_loop(&echo_thread.reactor(), &echo));
    });
    if (!listening) {
        std::fprintf(stderr, "soak: cannot listen on 127.0.0.1\n");
        return 1;
    }
    const std::uint16_t echo_port = echo.address().port();

    std::string client_toml =
        "log-level = \"warning\"\n[[proxies]]\nname = \"soak\"\ntype = \"anytls\"\n"
        "server = \"127.0.0.1\"\nport = " +
        std::to_string(server.port()) +
        "\npassword = \"soak password\"\nsni = \"localhost\"\nca-file = \"" + pki.ca_cert +
        "\"\n[proxies.session-override]\nensure-idle-session = 2\n"
        "ensure-idle-session-create-rate = 2\nmax-connection-lifetime = \"3s\"\n"
        "connection-lifetime-jitter = \"1s\"\nidle-session-timeout = \"2s\"\n"
        "idle-session-check-interval = \"1s\"\n";
    int status = 0;
    {
        auto client = client::Client::from_toml(client_toml);
        if (!client) {
            std::fprintf(stderr, "soak: %s\n", client.error().text().c_str());
            return 1;
        }
        std::mt19937_64 rng(options.seed);

        // Warm-up: 2 maximum-size streams per worker and a spread of smaller ones (5% of the
        // run, at least 100), through a pool that rotates as in the run.
        std::vector<std::uint64_t> warmup(2 * options.concurrency, options.max_size);
        const std::uint64_t spread = std::max<std::uint64_t>(100, options.streams / 20);
        for (std::uint64_t i = 0; i < spread; ++i)
            warmup.push_back(draw_size(rng, options.max_size));
        Totals warm;
        run_streams(*client.value(), echo_port, warmup, options.concurrency, 0s, options.seed + 1,
                    warm);
        if (warm.failed) {
            std::fprintf(stderr, "soak: warm-up failed: %s\n", warm.first_error.c_str());
            return 1;
        }
        Footprint before = settle(*client.value(), std::nullopt);

        std::vector<std::uint64_t> sizes(options.streams);
        for (auto& s : sizes) s = draw_size(rng, options.max_size);
        Totals totals;
        const auto started = std::chrono::steady_clock::now();
        run_streams(
            *client.value(), echo_port, sizes, options.concurrency,
            std::chrono::duration<double>(options.seconds / static_cast<double>(options.streams)),
            options.seed, totals);
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        auto stats = client.value()->stats("soak");

        Footprint after = settle(*client.value(), before.fds);
        const double rss_change =
            100.0 * (static_cast<double>(after.rss) - static_cast<double>(before.rss)) /
            static_cast<double>(before.rss);

        std::printf(
            "soak: %llu streams in %.1f s (%u at a time), %llu verified by SHA-256, %llu failed, "
            "%s verified (%llu bytes each way)\n",
            static_cast<unsigned long long>(options.streams), elapsed, options.concurrency,
            static_cast<unsigned long long>(totals.verified.load()),
            static_cast<unsigned long long>(totals.failed.load()),
            mib(static_cast<double>(totals.bytes)).c_str(),
            static_cast<unsigned long long>(totals.bytes.load()));
        if (stats) {
            std::printf(
                "soak: pool: %llu sessions created, %llu closed by age, %llu closed idle, %llu "
                "closed on error, "
                "%llu warm opens, %llu cold opens, %llu retried\n",
                static_cast<unsigned long long>(stats->created_total),
                static_cast<unsigned long long>(stats->closed_age),
                static_cast<unsigned long long>(stats->closed_idle),
                static_cast<unsigned long long>(stats->closed_error),
                static_cast<unsigned long long>(stats->warm_opens),
                static_cast<unsigned long long>(stats->cold_opens),
                static_cast<unsigned long long>(stats->retried_opens));
        }
        std::printf("soak: fds %zu before, %zu after; RSS %s before, %s after (%+.1f%%)\n",
                    before.fds, after.fds, mib(static_cast<double>(before.rss)).c_str(),
                    mib(static_cast<double>(after.rss)).c_str(), rss_change);
        std::printf("soak: heap in use %s before, %s after\n",
                    mib(static_cast<double>(before.heap_in_use)).c_str(),
                    mib(static_cast<double>(after.heap_in_use)).c_str());
        if (totals.failed) {
            std::printf("soak: FAILED: %s\n", totals.first_error.c_str());
            status = 1;
        }
        if (totals.verified != options.streams) status = 1;
        if (after.fds > before.fds) {
            std::printf("soak: FAILED: %zu file descriptors open after the run, %zu before\n",
                        after.fds, before.fds);
            status = 1;
        }
        if (options.rss_check && std::abs(rss_change) > options.rss_tolerance &&
            after.rss > before.rss) {
            std::printf("soak: FAILED: resident memory grew by %.1f%% (tolerance %.1f%%)\n",
                        rss_change, options.rss_tolerance);
            status = 1;
        }
        if (stats && stats->closed_age == 0) {
            std::printf("soak: FAILED: no session was rotated by age\n");
            status = 1;
        }
    }
    echo_thread.call([&] { echo.close(); });
    std::printf("soak: %s\n", status == 0 ? "PASSED" : "FAILED");
    return status;
}
