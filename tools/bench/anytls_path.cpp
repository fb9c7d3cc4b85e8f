// Benchmark: the full AnyTLS path against raw TLS, and stream-open latency, in one process.
//
//  bulk:    one stream uploads --bytes through client session -> our server -> a sink target,
//           timed from the first byte written to the sink having received them all; the
//           baseline is one raw TLS connection moving the same bytes in the same run.
//  latency: --streams streams opened one after another, each to an echo target, timed from
//           open_stream() to the first echoed byte: warm (a pool kept warm by ensure-idle-session)
//           against cold (session-reuse off: every stream waits for TCP + TLS + auth).
//
// Server and targets run on one reactor thread, the client on the main thread.
// Output: key=value lines, for tools/bench/anytls-path to turn into docs/BENCHMARKS.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "client/session_pool.hpp"
#include "io/reactor.hpp"
#include "io/reactor_thread.hpp"
#include "io/tcp.hpp"
#include "server/server.hpp"
#include "support/test_certs.hpp"
#include "tls/tls_connection.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;
using WallClock = std::chrono::steady_clock;

namespace {

struct Targets {
    TcpListener sink;
    TcpListener echo;
    std::atomic<std::size_t> sunk{0};
};

Task<void> sink_connection(Reactor* r, Socket s, Targets* t) {
    std::vector<std::byte> buf(256 * 1024);
    for (;;) {
        auto receive = recv(*r, s.fd(), buf.data(), buf.size());
        auto n = co_await receive;
        if (!n || *n == 0) break;
        t->sunk += *n;
    }
}

Task<void> echo_connection(Reactor* r, Socket s) {
    std::vector<std::byte> buf(64 * 1024);
    for (;;) {
        auto receive = recv(*r, s.fd(), buf.data(), buf.size());
        auto n = co_await receive;
        if (!n || *n == 0) break;
        auto w = co_await send_all(*r, s.fd(), std::span<const std::byte>(buf.data(), *n), 10s);
        if (!w) break;
    }
}

Task<void> accept_loop(Reactor* r, TcpListener* l, Targets* t, bool sink) {
    for (;;) {
        auto accept = l->accept(*r);
        auto s = co_await accept;
        if (!s) break;
        if (sink)
            r->spawn(sink_connection(r, std::move(s).value(), t));
        else
            r->spawn(echo_connection(r, std::move(s).value()));
    }
}

// Raw TLS baseline: the server side of a raw TLS connection sinks what it reads.
Task<void> raw_tls_sink(Reactor* r, TcpListener* l, std::shared_ptr<tls::TlsContext> ctx,
                        Targets* t) {
    auto accept = l->accept(*r);
    auto s = co_await accept;
    if (!s) co_return;
    auto conn = co_await tls::TlsConnection::accept(*r, std::move(s).value(), ctx, {});
    if (!conn) co_return;
    std::vector<std::byte> buf(256 * 1024);
    for (;;) {
        auto n = co_await conn.value()->read(buf, 30s);
        if (!n || *n == 0) break;
        t->sunk += *n;
    }
}

Task<double> raw_tls_upload(Reactor& r, SocketAddress at, std::shared_ptr<tls::TlsContext> ctx,
                            std::size_t bytes, Targets* t) {
    auto s = co_await tcp_connect(r, at, 5s);
    if (!s) co_return -1;
    tls::ClientHandshakeOptions ho;
    ho.server_name = "localhost";
    auto conn = co_await tls::TlsConnection::connect(r, std::move(s).value(), ctx, ho);
    if (!conn) co_return -1;
    std::vector<std::byte> data(256 * 1024, std::byte{0x42});
    t->sunk = 0;
    auto t0 = WallClock::now();
    for (std::size_t sent = 0; sent < bytes;) {
        std::size_t n = std::min(data.size(), bytes - sent);
        auto w = co_await conn.value()->write(std::span<const std::byte>(data.data(), n), 30s);
        if (!w) co_return -1;
        sent += n;
    }
    while (t->sunk.load() < bytes) (void)co_await sleep_for(r, 100us);
    double secs = std::chrono::duration<double>(WallClock::now() - t0).count();
    (void)co_await conn.value()->close();
    co_return double(bytes) / 1e6 / secs;
}

Task<double> anytls_upload(Reactor& r, client::SessionPool* pool, std::uint16_t sink_port,
                           std::size_t bytes, Targets* t) {
    auto s = co_await pool->open_stream("127.0.0.1", sink_port, 10s);
    if (!s) {
        std::fprintf(stderr, "open: %s\n", s.error().text().c_str());
        co_return -1;
    }
    std::vector<std::byte> data(256 * 1024, std::byte{0x42});
    t->sunk = 0;
    auto t0 = WallClock::now();
    for (std::size_t sent = 0; sent < bytes;) {
        std::size_t n = std::min(data.size(), bytes - sent);
        auto w = co_await s->write(std::span<const std::byte>(data.data(), n), 30s);
        if (!w) {
            std::fprintf(stderr, "write: %s\n", w.error().text().c_str());
            co_return -1;
        }
        sent += n;
    }
    while (t->sunk.load() < bytes) (void)co_await sleep_for(r, 100us);
    double secs = std::chrono::duration<double>(WallClock::now() - t0).count();
    (void)co_await s->close();
    co_return double(bytes) / 1e6 / secs;
}

Task<std::vector<double>> open_latencies(Reactor& r, client::SessionPool* pool,
                                         std::uint16_t echo_port, int streams, bool wait_for_pool) {
    std::vector<double> out;
    std::byte ping{1}, pong{};
    for (int i = 0; i < streams; ++i) {
        if (wait_for_pool) {
            // Let proactive creation refill the pool: a warm open finds an idle session.
            for (int k = 0; k < 2000 && pool->stats().idle == 0; ++k)
                (void)co_await sleep_for(r, 100us);
        }
        auto t0 = WallClock::now();
        auto s = co_await pool->open_stream("127.0.0.1", echo_port, 10s);
        if (!s) co_return std::vector<double>{};
        auto w = co_await s->write(std::span<const std::byte>(&ping, 1), 5s);
        auto n = co_await s->read(std::span<std::byte>(&pong, 1), 5s);
        if (!w || !n || *n != 1) co_return std::vector<double>{};
        out.push_back(std::chrono::duration<double, std::micro>(WallClock::now() - t0).count());
        (void)co_await s->close();
    }
    co_return out;
}

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, std::size_t(p * double(v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t bytes = std::size_t(1) << 30;
    int streams = 2000;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--bytes")
            bytes = std::strtoull(argv[i + 1], nullptr, 10) << 20;  // MiB
        else if (a == "--streams")
            streams = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: bench_anytls_path [--bytes MiB] [--streams N]\n");
            return 2;
        }
    }
    const auto& pki = test::test_pki();
    ReactorThread far;
    Targets targets;
    std::unique_ptr<server::Server> server;
    TcpListener raw_listener;
    tls::ServerContextOptions so;
    so.certificate_file = pki.server_cert;
    so.private_key_file = pki.server_key;
    auto server_ctx = tls::TlsContext::make_server(so);
    tls::ClientContextOptions co;
    co.ca_file = pki.ca_cert;
    auto client_ctx = tls::TlsContext::make_client(co);
    if (!server_ctx || !client_ctx) return 1;
    bool ok = far.call([&] {
        server::ServerConfig sc;
        sc.listen = "127.0.0.1:0";
        sc.certificate_file = pki.server_cert;
        sc.private_key_file = pki.server_key;
        sc.users = {{"bench", "bench password"}};
        auto created = server::Server::create(far.reactor(), sc);
        if (!created || !created.value()->start()) return false;
        server = std::move(created).value();
        auto sink = TcpListener::listen(SocketAddress::loopback_v4(0));
        auto echo = TcpListener::listen(SocketAddress::loopback_v4(0));
        auto raw = TcpListener::listen(SocketAddress::loopback_v4(0));
        if (!sink || !echo || !raw) return false;
        targets.sink = std::move(sink).value();
        targets.echo = std::move(echo).value();
        raw_listener = std::move(raw).value();
        far.reactor().spawn(accept_loop(&far.reactor(), &targets.sink, &targets, true));
        far.reactor().spawn(accept_loop(&far.reactor(), &targets.echo, &targets, false));
        far.reactor().spawn(
            raw_tls_sink(&far.reactor(), &raw_listener, server_ctx.value(), &targets));
        return true;
    });
    if (!ok) return 1;

    Reactor reactor;
    session::ClientConfig cc;
    cc.server_host = "127.0.0.1";
    cc.server_port = server->local_address().port();
    cc.password = "bench password";
    cc.sni = "localhost";
    cc.ca_file = pki.ca_cert;
    std::atomic<std::uint64_t> sequence{0};
    auto padding = std::make_shared<session::PaddingState>();

    double raw = sync_wait(reactor, raw_tls_upload(reactor, raw_listener.address(),
                                                   client_ctx.value(), bytes, &targets));
    config::PoolSettings plain;
    client::SessionPool bulk_pool(reactor, "bench", cc, plain, padding, &sequence);
    double path = sync_wait(reactor, anytls_upload(reactor, &bulk_pool,
                                                   targets.sink.address().port(), bytes, &targets));
    std::printf("bulk_raw_tls_mb_per_s=%.1f\nbulk_anytls_mb_per_s=%.1f\nbulk_ratio=%.3f\n", raw,
                path, path / raw);

    config::PoolSettings warm_settings;
    warm_settings.ensure_idle_session = 4;
    client::SessionPool warm_pool(reactor, "warm", cc, warm_settings, padding, &sequence);
    warm_pool.run_cycle();
    auto warm = sync_wait(
        reactor, open_latencies(reactor, &warm_pool, targets.echo.address().port(), streams, true));
    config::PoolSettings cold_settings;
    cold_settings.session_reuse = false;
    client::SessionPool cold_pool(reactor, "cold", cc, cold_settings, padding, &sequence);
    auto cold = sync_wait(reactor, open_latencies(reactor, &cold_pool,
                                                  targets.echo.address().port(), streams, false));
    // Keep the warm pool topped up between opens: each stream's session returns to idle, and
    // the pool has 4 idle sessions, so every warm open finds one.
    std::printf(
        "open_warm_p50_us=%.0f\nopen_warm_p99_us=%.0f\nopen_cold_p50_us=%.0f\nopen_cold_p99_us=%."
        "0f\n",
        percentile(warm, 0.5), percentile(warm, 0.99), percentile(cold, 0.5),
        percentile(cold, 0.99));
    std::printf("warm_opens=%llu cold_opens=%llu\n",
                (unsigned long long)warm_pool.stats().warm_opens,
                (unsigned long long)cold_pool.stats().cold_opens);
    sync_wait(reactor, bulk_pool.shutdown());
    sync_wait(reactor, warm_pool.shutdown());
    sync_wait(reactor, cold_pool.shutdown());
    far.call([&] {
        server->stop();
        targets.sink.close();
        targets.echo.close();
        raw_listener.close();
    });
    return (raw > 0 && path > 0 && !warm.empty() && !cold.empty()) ? 0 : 1;
}
