// The demo's embedded server and echo target (see demo_backend.hpp).
#include "demo_backend.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "base/errors.hpp"
#include "io/cancellation.hpp"
#include "io/reactor_thread.hpp"
#include "io/run_blocking.hpp"
#include "io/task_scope.hpp"
#include "io/tcp.hpp"
#include "server/server.hpp"
#include "tls/self_signed.hpp"

namespace anytls::cli {

namespace {

io::Task<void> echo_connection(io::Reactor* reactor, io::Socket socket,
                               io::CancellationSource* cancel) {
    std::vector<std::byte> buffer(64 * 1024);
    for (;;) {
        auto receive = io::recv(*reactor, socket.fd(), buffer.data(), buffer.size(),
                                std::chrono::seconds(120), cancel);
        auto n = co_await receive;
        if (!n || *n == 0) break;
        auto sent = co_await io::send_all(*reactor, socket.fd(),
                                          std::span<const std::byte>(buffer.data(), *n),
                                          std::chrono::seconds(30), cancel);
        if (!sent) break;
    }
}

// The accept loop and the echo connections run in `scope` (docs/DESIGN.md, "Shutdown").
io::Task<void> echo_accept_loop(io::Reactor* reactor, io::TcpListener* listener,
                                io::TaskScope* scope) {
    for (;;) {
        auto accept = listener->accept(*reactor, &scope->cancellation());
        auto socket = co_await accept;
        if (!socket) break;
        scope->spawn(echo_connection(reactor, std::move(socket).value(), &scope->cancellation()));
    }
}

std::string random_password() {
    std::random_device device;
    return fmt::format("demo-{:08x}{:08x}", device(), device());
}

Result<std::string> write_temporary_certificate(const std::string& pem) {
    const char* directory = std::getenv("TMPDIR");
    std::string path = fmt::format("{}/anytls-demo-ca-XXXXXX",
                                   directory != nullptr && *directory ? directory : "/tmp");
    const int fd = ::mkstemp(path.data());
    if (fd < 0) {
        const int error = errno;
        return make_error(
            -error, fmt::format("cannot create a temporary file for the demo's certificate: {}",
                                describe_error(-error)));
    }
    const bool written = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
    ::close(fd);
    if (!written) {
        ::unlink(path.c_str());
        return make_error(-EIO, "cannot write the demo's certificate to a temporary file");
    }
    return path;
}

}  // namespace

struct DemoBackend::State {
    io::ReactorThread thread;
    std::unique_ptr<server::Server> server;
    std::unique_ptr<io::TcpListener> echo;
    std::unique_ptr<io::TaskScope> echo_scope;  // made, used and destroyed on the reactor thread

    // The server's and the echo's coroutines, cancelled and joined.
    static io::Task<void> shutdown(State* state) {
        if (state->server) co_await state->server->shutdown();
        if (state->echo_scope) {
            state->echo_scope->cancel();
            co_await state->echo_scope->join();
        }
    }
};

Result<std::unique_ptr<DemoBackend>> DemoBackend::start() {
    std::unique_ptr<DemoBackend> backend(new DemoBackend());
    auto certificate = tls::generate_self_signed({"localhost", "127.0.0.1"});
    if (!certificate) return std::move(certificate).error();
    auto ca_file = write_temporary_certificate(certificate->certificate_pem);
    if (!ca_file) return std::move(ca_file).error();
    backend->ca_file_ = *ca_file;
    backend->fingerprint_ = certificate->sha256_fingerprint;
    backend->password_ = random_password();
    try {
        backend->state_ = std::make_unique<State>();
    } catch (const std::exception& e) {
        return make_error(-EIO, fmt::format("cannot start the demo's reactor: {}", e.what()));
    }
    State& state = *backend->state_;

    server::ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.certificate_pem = certificate->certificate_pem;
    config.private_key_pem = std::move(certificate->private_key_pem);
    config.users.push_back(server::ServerUser{"demo", backend->password_});

    auto started = state.thread.call([&]() -> Result<std::pair<std::uint16_t, std::uint16_t>> {
        auto made = server::Server::create(state.thread.reactor(), std::move(config));
        if (!made) return std::move(made).error();
        state.server = std::move(made).value();
        if (auto listening = state.server->start(); !listening) return std::move(listening).error();
        auto address = io::SocketAddress::parse_numeric("127.0.0.1", 0);
        if (!address) return std::move(address).error();
        auto listener = io::TcpListener::listen(*address);
        if (!listener) return std::move(listener).error();
        state.echo = std::make_unique<io::TcpListener>(std::move(listener).value());
        io::Reactor& reactor = state.thread.reactor();
        state.echo_scope = std::make_unique<io::TaskScope>(reactor);
        state.echo_scope->spawn(
            echo_accept_loop(&reactor, state.echo.get(), state.echo_scope.get()));
        return std::make_pair(state.server->local_address().port(), state.echo->address().port());
    });
    if (!started)
        return make_error(
            started.code(),
            fmt::format("cannot start the demo's server on 127.0.0.1: {}", started.error().text()));
    backend->server_port_ = started->first;
    backend->echo_port_ = started->second;
    return backend;
}

DemoBackend::~DemoBackend() {
    if (state_) {
        State& state = *state_;
        io::run_blocking(state.thread, State::shutdown(&state));
        state.thread.call([&] {
            state.server.reset();
            state.echo.reset();
            state.echo_scope.reset();
        });
        state_.reset();
    }
    if (!ca_file_.empty()) ::unlink(ca_file_.c_str());
}

}  // namespace anytls::cli
