// The one bidirectional byte relay: every place that copies bytes between two endpoints (a
// socket, an AnyTLS stream, a TLS connection, a server stream's buffer) runs it
// (docs/DESIGN.md, "Relays").
//
// An endpoint is anything with
//     io::Task<Result<std::size_t>> read(std::span<std::byte>, io::Duration timeout);  // 0 = EOF
//     io::Task<Result<void>> write(std::span<const std::byte>, io::Duration timeout);
// (SocketEndpoint below adapts a socket; PooledStream, TlsConnection and StreamBuffer fit as
// they are). What an end means differs per site, so a site describes its two ends in a link:
//     A& a(); B& b();                                          // the endpoints
//     RelayDirectionOptions options(RelayDirection);
//     io::Task<void> direction_ended(RelayDirection, RelayEnd); // once per direction
//     io::Task<void> both_ended();                             // once, after both
// The choices every site shares are made here once: one 64 KiB buffer of mapped pages per
// direction (base/page_buffer.hpp: a quiet connection costs a few resident KiB), each write
// with its own timeout, reads without one unless the site asks (idle timeout), and the
// half-close linger (after one side's EOF, the other direction ends once it has moved
// nothing for a while).
// Reactor thread only.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "base/errors.hpp"
#include "base/page_buffer.hpp"
#include "base/result.hpp"
#include "io/cancellation.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/task_scope.hpp"
#include "io/tcp.hpp"

namespace anytls::io {

// The buffer of one relay direction: large enough that a bulk transfer moves a TLS record's
// worth or more per turn, small enough (as mapped pages) that idle relays stay cheap.
inline constexpr std::size_t relay_buffer_size = 64 * 1024;

// a_to_b: read from the link's a(), write to its b(); b_to_a the other way.
enum class RelayDirection { a_to_b, b_to_a };

// The half-close linger shared by the two directions of a link: once `started` (the site sets
// it when one side's EOF is a half-close), the direction reading with this linger ends when it
// has moved nothing for `after`. Reads then wait in slices of `slice`, so no second timer runs.
struct HalfCloseLinger {
    Duration after = Duration::zero();
    Duration slice = std::chrono::seconds(1);
    bool started = false;
    TimePoint last_activity{};
};

struct RelayDirectionOptions {
    Reactor* reactor = nullptr;  // for the linger's clock
    Duration write_timeout = std::chrono::seconds(60);
    Duration idle_timeout = Duration::zero();  // each read; zero waits for ever
    // At most this many bytes per read, and room kept in front of them for the sink (a frame
    // header written in place, so the bytes are not copied again); see `write_in_place`.
    std::size_t max_read = relay_buffer_size;
    std::size_t headroom = 0;
    HalfCloseLinger* linger = nullptr;
    // The site ended the relay: a read or write that returns afterwards ends the direction
    // as `stopped`, whatever it returned.
    const bool* stopped = nullptr;
    std::uint64_t* moved = nullptr;  // counts the bytes written, as they go
};

struct RelayEnd {
    enum class Kind {
        eof,           // the source ended (read returned 0)
        lingered,      // after the other side's half-close, nothing moved for the linger
        read_failed,   // `error` is the read's
        write_failed,  // `error` is the write's
        stopped,       // the site's `stopped` flag was set
    };
    Kind kind = Kind::eof;
    Error error{};
};

// Adapts a socket to an endpoint (io::recv, io::send_all). The fd stays the owner's.
struct SocketEndpoint {
    Reactor* reactor = nullptr;
    int fd = -1;
    CancellationSource* cancel = nullptr;

    Task<Result<std::size_t>> read(std::span<std::byte> buffer, Duration timeout) {
        auto receive = recv(*reactor, fd, buffer.data(), buffer.size(), timeout, cancel);
        auto n = co_await receive;
        co_return n;
    }
    Task<Result<void>> write(std::span<const std::byte> data, Duration timeout) {
        auto sent = co_await send_all(*reactor, fd, data, timeout, cancel);
        co_return sent;
    }
};

namespace detail {

// A sink with `write_in_place(std::span<std::byte> headroom_and_data, Duration)` is handed the
// reserved headroom too; any other gets the data alone.
template <class Sink>
concept WritesInPlace = requires(Sink& sink, std::span<std::byte> bytes, Duration timeout) {
    sink.write_in_place(bytes, timeout);
};

}  // namespace detail

// One direction: reads from `from` and writes each chunk to `to` until an end.
template <class Source, class Sink>
Task<RelayEnd> pump(Source& from, Sink& to, RelayDirectionOptions options) {
    PageBuffer pages(options.headroom + options.max_read);
    const std::span<std::byte> room = pages.span().subspan(options.headroom, options.max_read);
    auto stopped = [&] { return options.stopped && *options.stopped; };
    HalfCloseLinger* linger = options.linger;
    for (;;) {
        const Duration timeout = linger ? linger->slice : options.idle_timeout;
        auto n = co_await from.read(room, timeout);
        if (stopped()) co_return RelayEnd{RelayEnd::Kind::stopped, {}};
        if (!n && linger && n.code() == -ETIMEDOUT) {
            if (linger->started && options.reactor->now() - linger->last_activity >= linger->after)
                co_return RelayEnd{RelayEnd::Kind::lingered, {}};
            continue;
        }
        if (!n) co_return RelayEnd{RelayEnd::Kind::read_failed, n.error()};
        if (*n == 0) co_return RelayEnd{RelayEnd::Kind::eof, {}};
        if (linger && linger->started) linger->last_activity = options.reactor->now();
        Result<void> written;
        if constexpr (detail::WritesInPlace<Sink>) {
            auto chunk = pages.span().first(options.headroom + *n);
            written = co_await to.write_in_place(chunk, options.write_timeout);
        } else {
            const std::span<const std::byte> data(room.data(), *n);
            written = co_await to.write(data, options.write_timeout);
        }
        if (!written) {
            if (stopped()) co_return RelayEnd{RelayEnd::Kind::stopped, {}};
            co_return RelayEnd{RelayEnd::Kind::write_failed, written.error()};
        }
        if (options.moved) *options.moved += *n;
    }
}

namespace detail {

template <class Link>
struct RelayRun {
    std::shared_ptr<Link> link;
    int running = 2;
};

template <class Link>
Task<void> run_direction(std::shared_ptr<RelayRun<Link>> run, RelayDirection direction) {
    Link& link = *run->link;
    const RelayDirectionOptions options = link.options(direction);
    RelayEnd end;
    if (direction == RelayDirection::a_to_b)
        end = co_await pump(link.a(), link.b(), options);
    else
        end = co_await pump(link.b(), link.a(), options);
    co_await link.direction_ended(direction, std::move(end));
    if (--run->running == 0) co_await link.both_ended();
}

}  // namespace detail

// Relays both ways: b -> a runs in `scope` (its owner's shutdown cancels and joins it), a -> b
// in the caller's coroutine, which returns when that direction has ended (direction_ended
// done; both_ended too if it was the last).
template <class Link>
Task<void> relay(TaskScope& scope, std::shared_ptr<Link> link) {
    auto run = std::make_shared<detail::RelayRun<Link>>();
    run->link = std::move(link);
    scope.spawn(detail::run_direction(run, RelayDirection::b_to_a));
    co_await detail::run_direction(run, RelayDirection::a_to_b);
}

}  // namespace anytls::io
