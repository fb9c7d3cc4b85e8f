// One client connection's shared parts and its relay (see inbound_connection.hpp).
#include "inbound/inbound_connection.hpp"

#include <fmt/format.h>

#include <cerrno>

#include "base/errors.hpp"
#include "client/open_failure.hpp"
#include "inbound/http_proxy_parser.hpp"
#include "io/relay.hpp"

namespace anytls::inbound::detail {

void report(Connection& c) {
    if (c.reported) return;
    c.reported = true;
    c.record.duration = c.context->reactor->now() - c.started;
    if (c.record.result.empty()) c.record.result = "ok";
    if (c.context->options.on_connection_end) c.context->options.on_connection_end(c.record);
}

void fail(Connection& c, std::string why) {
    if (c.record.result.empty()) c.record.result = std::move(why);
}

std::string open_failure_text(const Connection& c, const Error& error, std::string_view target) {
    const InboundContext& context = *c.context;
    return client::describe_open_failure(
        error, client::ProxyLabel{context.pool->proxy_name(), context.proxy_address}, target);
}

io::Task<bool> read_more(Connection& c, Bytes& buffer, const io::Deadline& deadline) {
    std::uint8_t chunk[4096];
    auto receive =
        io::recv(*c.context->reactor, c.client.fd(), chunk, sizeof chunk, deadline.remaining());
    auto n = co_await receive;
    if (!n) {
        fail(c, n.code() == -ETIMEDOUT
                    ? "the client did not finish its request in time"
                    : fmt::format("reading the request failed: {}", n.error().text()));
        co_return false;
    }
    if (*n == 0) {
        fail(c, "the client closed the connection before finishing its request");
        co_return false;
    }
    buffer.insert(buffer.end(), chunk, chunk + *n);
    co_return true;
}

io::Task<bool> send_to_client(Connection& c, std::span<const std::byte> data) {
    auto sent = co_await io::send_all(*c.context->reactor, c.client.fd(), data,
                                      c.context->options.write_timeout);
    if (!sent) {
        fail(c, fmt::format("writing to the client failed: {}", sent.error().text()));
        co_return false;
    }
    co_return true;
}

io::Task<void> end_relay(std::shared_ptr<Connection> c) {
    if (!c->ended) {
        c->ended = true;
        if (c->udp_cancel) c->udp_cancel->cancel();
        if (c->client.valid()) c->client.shutdown(SHUT_RDWR);
    }
    if (c->stream && !c->stream->closed()) (void)co_await c->stream->close();
}

io::Task<void> finish_task(std::shared_ptr<Connection> c) {
    if (--c->running > 0) co_return;
    if (c->stream && !c->stream->closed()) (void)co_await c->stream->close();
    report(*c);
}

namespace {

// a: the client socket; b: the stream. The client may half-close: its FIN lingers the stream
// (the answer still arrives while its session goes back to the pool) and the stream's
// direction then ends after half-close-linger without bytes. The stream's end is the end of
// both (AnyTLS has no half-close).
struct ClientStreamLink {
    std::shared_ptr<Connection> c;
    io::SocketEndpoint client;
    io::HalfCloseLinger linger;

    io::SocketEndpoint& a() { return client; }
    client::PooledStream& b() { return *c->stream; }

    io::RelayDirectionOptions options(io::RelayDirection direction) {
        io::RelayDirectionOptions options;
        options.reactor = c->context->reactor;
        options.write_timeout = c->context->options.write_timeout;
        options.stopped = &c->ended;
        if (direction == io::RelayDirection::a_to_b) {
            options.moved = &c->record.bytes_up;
        } else {
            options.moved = &c->record.bytes_down;
            options.linger = &linger;
        }
        return options;
    }

    io::Task<void> direction_ended(io::RelayDirection direction, io::RelayEnd end) {
        if (direction == io::RelayDirection::a_to_b)
            co_await client_ended(std::move(end));
        else
            co_await stream_ended(std::move(end));
        co_await finish_task(c);
    }
    io::Task<void> both_ended() { co_return; }

    io::Task<void> client_ended(io::RelayEnd end) {
        using Kind = io::RelayEnd::Kind;
        switch (end.kind) {
            case Kind::stopped:
                co_return;
            case Kind::read_failed:
                fail(*c, fmt::format("the client connection failed: {}", end.error.text()));
                break;
            case Kind::write_failed:
                fail(*c, fmt::format("writing to the stream failed: {}", end.error.text()));
                break;
            case Kind::lingered:
            case Kind::eof:
                if (c->context->stopping) break;  // stop() shut the socket down: end the stream too
                // A half-close: the stream stays open so that the answer still arrives, and
                // hands its session back to the pool meanwhile (it only drains now).
                c->client_eof = true;
                linger.started = true;
                linger.last_activity = c->context->reactor->now();
                c->stream->linger();
                co_return;
        }
        co_await end_relay(c);
    }

    io::Task<void> stream_ended(io::RelayEnd end) {
        using Kind = io::RelayEnd::Kind;
        if (end.kind == Kind::read_failed && end.error.code != errc::closed && !c->ended) {
            // Before the first byte, a failure is the open's (a refused target, a wrong
            // password), told as the open's error would have been.
            const bool before_answer = c->record.bytes_down == 0;
            const std::string why = before_answer
                                        ? open_failure_text(*c, end.error, c->record.target)
                                        : fmt::format("the stream failed: {}", end.error.text());
            fail(*c, why);
            if (c->record.protocol == "http" && before_answer) {
                // A plain-HTTP request was sent with the SYN, before the server could say
                // whether it reached the target: its refusal becomes the error page here.
                auto page = http_error_response(http_status_for(end.error), why);
                (void)co_await io::send_all(*c->context->reactor, c->client.fd(), as_bytes(page),
                                            c->context->options.write_timeout);
            }
        }
        if (end.kind == Kind::write_failed && !c->ended)
            fail(*c, fmt::format("writing to the client failed: {}", end.error.text()));
        // The stream is over (FIN closes both ways): the client gets its FIN after the last
        // byte, and a read still waiting on the client is woken.
        if (!c->ended) {
            c->ended = true;
            c->client.shutdown(SHUT_WR);
            if (!c->client_eof) c->client.shutdown(SHUT_RD);
        }
        if (!c->stream->closed()) (void)co_await c->stream->close();
    }
};

}  // namespace

io::Task<void> relay(std::shared_ptr<Connection> c) {
    auto link = std::make_shared<ClientStreamLink>();
    link->client = io::SocketEndpoint{c->context->reactor, c->client.fd(), nullptr};
    link->linger.after = c->context->options.half_close_linger;
    link->c = c;
    c->running = 2;
    co_await io::relay(*c->context->scope, std::move(link));
}

io::Task<Result<std::shared_ptr<client::PooledStream>>> open_through_pool(Connection& c,
                                                                          std::string host,
                                                                          std::uint16_t port,
                                                                          Bytes early, bool wait) {
    client::OpenOptions options;
    options.cancel = &c.context->scope->cancellation();
    options.early_data = std::move(early);
    options.wait_connected = wait;
    auto opened = co_await c.context->pool->open_stream(
        std::move(host), port, c.context->options.open_timeout, std::move(options));
    if (!opened) co_return std::move(opened).error();
    co_return std::make_shared<client::PooledStream>(std::move(opened).value());
}

}  // namespace anytls::inbound::detail
