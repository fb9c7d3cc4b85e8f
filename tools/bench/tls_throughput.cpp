// Benchmark: throughput of one stream over loopback, plain TCP or TLS.
//
// A server thread (its own reactor) sends --bytes to a client on the main thread's reactor,
// which reads and discards them. Timing starts after the TLS handshake, so this measures the
// record layer: encryption on one core, decryption on the other. Built twice by meson: with
// the project's wolfSSL (assembly on) and, as bench_tls_throughput_system, with Debian's
// libwolfssl, so tools/bench/tls-throughput can compare them in one run.
//
// Output: one line, "mode=tls bytes=N seconds=S mb_per_s=X cipher=... wolfssl=... asm=0|1".
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "io/reactor.hpp"
#include "io/reactor_thread.hpp"
#include "io/tcp.hpp"
#include "support/test_certs.hpp"
#include "tls/tls_connection.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

struct Options {
    bool tls = true;
    std::size_t bytes = std::size_t(1) << 30;
    std::size_t buffer = 256 * 1024;
};

[[noreturn]] void usage() {
    std::fprintf(
        stderr,
        "usage: bench_tls_throughput [--mode tcp|tls] [--bytes N[K|M|G]] [--buffer N[K|M]]\n");
    std::exit(2);
}

std::size_t parse_size(const char* text) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(text, &end, 10);
    if (end == text) usage();
    switch (*end) {
        case 'K':
        case 'k':
            v <<= 10;
            break;
        case 'M':
        case 'm':
            v <<= 20;
            break;
        case 'G':
        case 'g':
            v <<= 30;
            break;
        case '\0':
            break;
        default:
            usage();
    }
    return v;
}

Task<void> serve(Reactor& r, TcpListener* listener, Options options,
                 std::shared_ptr<tls::TlsContext> ctx, std::string* error) {
    auto s = co_await listener->accept(r);
    if (!s) {
        *error = s.error().text();
        co_return;
    }
    std::vector<std::byte> data(options.buffer, std::byte{0x5a});
    std::size_t left = options.bytes;
    if (options.tls) {
        auto conn = co_await tls::TlsConnection::accept(r, std::move(s).value(), ctx, {});
        if (!conn) {
            *error = conn.error().text();
            co_return;
        }
        while (left > 0) {
            std::size_t n = std::min(left, data.size());
            auto w = co_await conn.value()->write(std::span<const std::byte>(data.data(), n), 30s);
            if (!w) {
                *error = w.error().text();
                co_return;
            }
            left -= n;
        }
        (void)co_await conn.value()->close();
    } else {
        while (left > 0) {
            std::size_t n = std::min(left, data.size());
            auto w = co_await send_all(r, s->fd(), std::span<const std::byte>(data.data(), n), 30s);
            if (!w) {
                *error = w.error().text();
                co_return;
            }
            left -= n;
        }
    }
}

struct ClientResult {
    std::size_t received = 0;
    double seconds = 0;
    std::string cipher;
    std::string error;
};

Task<ClientResult> receive(Reactor& r, SocketAddress at, Options options,
                           std::shared_ptr<tls::TlsContext> ctx) {
    ClientResult out;
    auto s = co_await tcp_connect(r, at, 5s);
    if (!s) {
        out.error = s.error().text();
        co_return out;
    }
    std::vector<std::byte> buf(options.buffer);
    if (options.tls) {
        tls::ClientHandshakeOptions ho;
        ho.server_name = "localhost";
        auto conn = co_await tls::TlsConnection::connect(r, std::move(s).value(), ctx, ho);
        if (!conn) {
            out.error = conn.error().text();
            co_return out;
        }
        out.cipher = conn.value()->cipher_suite();
        auto t0 = std::chrono::steady_clock::now();
        while (out.received < options.bytes) {
            auto n = co_await conn.value()->read(buf, 30s);
            if (!n) {
                out.error = n.error().text();
                co_return out;
            }
            if (*n == 0) break;
            out.received += *n;
        }
        out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    } else {
        auto t0 = std::chrono::steady_clock::now();
        while (out.received < options.bytes) {
            auto n = co_await recv(r, s->fd(), buf.data(), buf.size(), 30s);
            if (!n) {
                out.error = n.error().text();
                co_return out;
            }
            if (*n == 0) break;
            out.received += *n;
        }
        out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    co_return out;
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--mode" && i + 1 < argc) {
            std::string m = argv[++i];
            if (m == "tcp")
                options.tls = false;
            else if (m == "tls")
                options.tls = true;
            else
                usage();
        } else if (a == "--bytes" && i + 1 < argc) {
            options.bytes = parse_size(argv[++i]);
        } else if (a == "--buffer" && i + 1 < argc) {
            options.buffer = parse_size(argv[++i]);
        } else {
            usage();
        }
    }

    std::shared_ptr<tls::TlsContext> server_ctx, client_ctx;
    if (options.tls) {
        const auto& pki = test::test_pki();
        tls::ServerContextOptions so;
        so.certificate_file = pki.server_cert;
        so.private_key_file = pki.server_key;
        auto s = tls::TlsContext::make_server(so);
        tls::ClientContextOptions co;
        co.ca_file = pki.ca_cert;
        auto c = tls::TlsContext::make_client(co);
        if (!s || !c) {
            std::fprintf(stderr, "TLS setup failed: %s\n",
                         (!s ? s.error() : c.error()).text().c_str());
            return 1;
        }
        server_ctx = s.value();
        client_ctx = c.value();
    }

    auto listener = TcpListener::listen(SocketAddress::loopback_v4(0));
    if (!listener) {
        std::fprintf(stderr, "listen: %s\n", listener.error().text().c_str());
        return 1;
    }
    std::string server_error;
    ReactorThread server_thread;
    server_thread.post([&] {
        server_thread.reactor().spawn(
            serve(server_thread.reactor(), &listener.value(), options, server_ctx, &server_error));
    });
    Reactor client;
    ClientResult result =
        sync_wait(client, receive(client, listener->address(), options, client_ctx));
    server_thread.stop();
    if (!result.error.empty() || !server_error.empty() || result.received != options.bytes) {
        std::fprintf(stderr, "failed: client: %s server: %s (received %zu of %zu)\n",
                     result.error.c_str(), server_error.c_str(), result.received, options.bytes);
        return 1;
    }
    std::printf("mode=%s bytes=%zu seconds=%.4f mb_per_s=%.1f cipher=%s wolfssl=%s asm=%d\n",
                options.tls ? "tls" : "tcp", result.received, result.seconds,
                double(result.received) / 1e6 / result.seconds,
                result.cipher.empty() ? "-" : result.cipher.c_str(), tls::wolfssl_version().c_str(),
                tls::wolfssl_has_intel_asm() ? 1 : 0);
    return 0;
}
