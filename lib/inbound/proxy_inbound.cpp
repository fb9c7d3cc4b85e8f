// The local SOCKS5 / HTTP entry point's accept loop and lifetime (see proxy_inbound.hpp):
// each accepted connection is told apart by its first byte and served by socks5_entry or
// http_entry (inbound_connection.hpp has what they share).
#include "inbound/proxy_inbound.hpp"

#include <memory>

#include "inbound/inbound_connection.hpp"
#include "inbound/socks5_parser.hpp"
#include "io/task_scope.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"

namespace anytls::inbound {

namespace {

using namespace detail;

io::Task<void> serve(std::shared_ptr<Connection> c) {
    const io::Deadline deadline = io::Deadline::after(c->context->options.handshake_timeout);
    Bytes buffer;
    if (!co_await read_more(*c, buffer, deadline)) {
        report(*c);
        co_return;
    }
    if (buffer[0] == socks5_version)
        co_await serve_socks5(c, std::move(buffer), deadline);
    else if (buffer[0] == 0x04) {
        c->record.protocol = "socks4";
        fail(*c, "SOCKS4 is not supported (use SOCKS5)");
        const Bytes reply{0x00, 0x5B, 0, 0, 0, 0, 0, 0};  // SOCKS4 "request rejected"
        (void)co_await send_to_client(*c, as_bytes(reply));
        report(*c);
    } else {
        co_await serve_http(c, std::move(buffer), deadline);
    }
}

io::Task<void> accept_loop(std::shared_ptr<InboundContext> context) {
    // Named, not temporaries of the co_await expression: g++ 12 destroys some of those twice.
    auto on_accepted = [context](io::Socket socket) {
        ++context->accepted;
        auto c = std::make_shared<Connection>();
        c->context = context;
        c->client = std::move(socket);
        (void)c->client.set_nodelay(true);
        c->started = context->reactor->now();
        if (auto peer = c->client.peer_address()) c->record.client = peer->to_string();
        context->open_connections.insert(c->client.fd());
        context->scope->spawn(serve(std::move(c)));
    };
    auto loop = accept_until_stopped(context, "socks", std::move(on_accepted));
    co_await std::move(loop);
}

}  // namespace

ProxyInbound::ProxyInbound(io::Reactor& reactor, std::shared_ptr<client::SessionPool> pool,
                           InboundOptions options)
    : context_(std::make_shared<InboundContext>(reactor)) {
    context_->proxy_address = pool->server_address();
    context_->pool = std::move(pool);
    context_->options = std::move(options);
}

ProxyInbound::~ProxyInbound() { stop(); }

Result<io::SocketAddress> ProxyInbound::start() {
    return context_->listen(context_->options.listen, accept_loop(context_));
}

// Ends the accept, the opens in flight (OpenOptions::cancel) and the UDP relays' waits; the
// shut-down client sockets end the rest.
void ProxyInbound::stop() { context_->stop(); }

// The task keeps the context: the caller may drop this object before it ends.
io::Task<void> ProxyInbound::shutdown() {
    const auto context = context_;
    co_await context->shutdown();
}

std::uint64_t ProxyInbound::connections_accepted() const { return context_->accepted; }

std::size_t ProxyInbound::open_connections() const { return context_->open_connections.size(); }

}  // namespace anytls::inbound
