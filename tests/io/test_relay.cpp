// io::relay over real sockets on a real ring: bytes cross both ways in order, each side's EOF
// is reported once and passed on, a half-close linger ends the quiet direction, and a failed
// write ends its direction with the write's error (docs/DESIGN.md, "Relays").
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "base/errors.hpp"
#include "io/reactor.hpp"
#include "io/relay.hpp"
#include "io/sync_wait.hpp"
#include "io/task_scope.hpp"
#include "io/tcp.hpp"

using namespace anytls;
using namespace anytls::io;
using namespace std::chrono_literals;

namespace {

struct Pair {
    int outside = -1;  // the test's end
    int inside = -1;   // the relay's end
    Pair() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
        outside = fds[0];
        inside = fds[1];
    }
    ~Pair() {
        ::close(outside);
        ::close(inside);
    }
};

// Two sockets relayed; each EOF is passed on as a half-close of the other side.
struct SocketLink {
    Reactor* reactor = nullptr;
    SocketEndpoint left, right;
    HalfCloseLinger linger;
    bool use_linger = false;
    std::vector<RelayEnd::Kind> ends[2];
    std::uint64_t moved[2] = {0, 0};
    int both_ended_calls = 0;

    SocketEndpoint& a() { return left; }
    SocketEndpoint& b() { return right; }
    RelayDirectionOptions options(RelayDirection direction) {
        RelayDirectionOptions options;
        options.reactor = reactor;
        options.write_timeout = 2s;
        const int i = direction == RelayDirection::a_to_b ? 0 : 1;
        options.moved = &moved[i];
        if (direction == RelayDirection::b_to_a && use_linger) options.linger = &linger;
        return options;
    }
    Task<void> direction_ended(RelayDirection direction, RelayEnd end) {
        const int i = direction == RelayDirection::a_to_b ? 0 : 1;
        ends[i].push_back(end.kind);
        if (direction == RelayDirection::a_to_b) {
            ::shutdown(right.fd, SHUT_WR);
            linger.started = true;
            linger.last_activity = reactor->now();
        } else {
            ::shutdown(left.fd, SHUT_WR);
        }
        co_return;
    }
    Task<void> both_ended() {
        ++both_ended_calls;
        co_return;
    }
};

Task<std::string> read_to_end(Reactor* r, int fd) {
    std::string got;
    char chunk[256];
    for (;;) {
        auto receive = recv(*r, fd, chunk, sizeof chunk, 2s);
        auto n = co_await receive;
        REQUIRE(n.ok());
        if (*n == 0) break;
        got.append(chunk, *n);
    }
    co_return got;
}

void write_and_close(int fd, const std::string& text) {
    REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    ::shutdown(fd, SHUT_WR);
}

Task<void> join(TaskScope* scope) { co_await scope->join(); }

}  // namespace

TEST_CASE("relay: bytes cross both ways in order, each EOF is reported once and passed on") {
    Reactor r;
    TaskScope scope(r);
    Pair x, y;
    auto link = std::make_shared<SocketLink>();
    link->reactor = &r;
    link->left = SocketEndpoint{&r, x.inside, nullptr};
    link->right = SocketEndpoint{&r, y.inside, nullptr};
    scope.spawn(relay(scope, link));

    write_and_close(x.outside, "hello, target");
    CHECK(sync_wait(r, read_to_end(&r, y.outside)) == "hello, target");
    // The other direction still runs after the half-close.
    write_and_close(y.outside, "and back");
    CHECK(sync_wait(r, read_to_end(&r, x.outside)) == "and back");
    sync_wait(r, join(&scope));

    CHECK(link->ends[0] == std::vector<RelayEnd::Kind>{RelayEnd::Kind::eof});
    CHECK(link->ends[1] == std::vector<RelayEnd::Kind>{RelayEnd::Kind::eof});
    CHECK(link->moved[0] == 13);
    CHECK(link->moved[1] == 8);
    CHECK(link->both_ended_calls == 1);
}

TEST_CASE("relay: after a half-close, the quiet direction ends once the linger has passed") {
    Reactor r;
    TaskScope scope(r);
    Pair x, y;
    auto link = std::make_shared<SocketLink>();
    link->reactor = &r;
    link->left = SocketEndpoint{&r, x.inside, nullptr};
    link->right = SocketEndpoint{&r, y.inside, nullptr};
    link->use_linger = true;
    link->linger.after = 150ms;
    link->linger.slice = 20ms;
    scope.spawn(relay(scope, link));

    const auto started = r.now();
    write_and_close(x.outside, "request");
    CHECK(sync_wait(r, read_to_end(&r, y.outside)) == "request");
    // The answer's side never writes nor closes: only the linger ends its direction.
    CHECK(sync_wait(r, read_to_end(&r, x.outside)).empty());
    sync_wait(r, join(&scope));
    CHECK(r.now() - started >= 150ms);
    CHECK(link->ends[1] == std::vector<RelayEnd::Kind>{RelayEnd::Kind::lingered});
}

namespace {

// A sink whose writes fail, and a source with one chunk.
struct FailingSink {
    Task<Result<void>> write(std::span<const std::byte>, Duration) {
        co_return make_error(-EPIPE, "the sink is gone");
    }
};
struct OneChunkSource {
    bool given = false;
    Task<Result<std::size_t>> read(std::span<std::byte> buffer, Duration) {
        if (given) co_return std::size_t{0};
        given = true;
        std::memset(buffer.data(), 'x', 10);
        co_return std::size_t{10};
    }
};

Task<RelayEnd> pump_into_failing_sink(std::uint64_t* moved) {
    OneChunkSource source;
    FailingSink sink;
    RelayDirectionOptions options;
    options.moved = moved;
    auto end = co_await pump(source, sink, options);
    co_return end;
}

}  // namespace

TEST_CASE("relay: a failed write ends its direction with the write's error, nothing counted") {
    Reactor r;
    std::uint64_t moved = 0;
    const RelayEnd end = sync_wait(r, pump_into_failing_sink(&moved));
    CHECK(end.kind == RelayEnd::Kind::write_failed);
    CHECK(end.error.code == -EPIPE);
    CHECK(moved == 0);
}
