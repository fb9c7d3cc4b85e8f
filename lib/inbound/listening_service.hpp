// What a listening service of the entry point (the SOCKS/HTTP entry, /metrics) keeps: its
// listener, the task scope its accept loop and connections run in, and their client sockets,
// so that stop() ends them all and shutdown() waits for them (docs/DESIGN.md, "Shutdown").
// Each service's context derives from it and adds its own state.
#pragma once

#include <memory>
#include <set>

#include "base/result.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/task_scope.hpp"
#include "io/tcp.hpp"

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

}  // namespace anytls::inbound
