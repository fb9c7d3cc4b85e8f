// What a listening service of the entry point (the SOCKS/HTTP entry, /metrics) keeps: its
// listener, the task scope its accept loop and connections run in, and their client sockets,
// so that stop() ends them all and shutdown() waits for them (docs/DESIGN.md, "Shutdown").
// Each service's context derives from it and adds its own state.
#pragma once

#include <chrono>
#include <memory>
#include <set>
#include <string_view>
#include <utility>

#include "base/result.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/task_scope.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"

namespace anytls::inbound {

struct ListeningService {
    explicit ListeningService(io::Reactor& on)
        : reactor(&on), scope(std::make_unique<io::TaskScope>(on)) {}

    // Binds `at` and runs `accept_loop` in the scope; the bound address (with the real port).
    Result<io::SocketAddress> listen(const io::SocketAddress& at, io::Task<void> accept_loop);
    // Cancels every wait in the scope and shuts the open client sockets down; idempotent.
    void stop();
    // stop(), then waits for every coroutine of the scope to end.
    io::Task<void> shutdown();

    io::Reactor* reactor;
    io::TcpListener listener;
    // The coroutines here hold the context, so it outlives them.
    std::unique_ptr<io::TaskScope> scope;
    std::set<int> open_connections;  // client fds, shut down by stop()
    bool stopping = false;
};

// The accept loop of a service whose context derives from ListeningService: accepts until
// stop(), handing each connection to on_accepted(io::Socket). A failed accept is logged as
// "[AnyTLS] <name>: accept failed" and retried 100 ms later (EMFILE and friends: give the
// system a moment instead of spinning).
template <class Context, class OnAccepted>
io::Task<void> accept_until_stopped(std::shared_ptr<Context> context, std::string_view name,
                                    OnAccepted on_accepted) {
    io::Reactor& r = *context->reactor;
    while (!context->stopping) {
        auto accepted = co_await context->listener.accept(r, &context->scope->cancellation());
        if (context->stopping) break;
        if (!accepted) {
            log::warn("[AnyTLS] {}: accept failed: {}", name, accepted.error().text());
            (void)co_await io::sleep_for(r, std::chrono::milliseconds(100),
                                         &context->scope->cancellation());
            continue;
        }
        on_accepted(std::move(accepted).value());
    }
}

}  // namespace anytls::inbound
