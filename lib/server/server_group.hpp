// ServerGroup: the AnyTLS server on N reactor threads (docs/DESIGN.md, "Threads" and "The
// server"). `anytls server` and the C ABI's embedded server both run one.
//
// Each thread runs a Server of its own on its own reactor, built from the same ServerConfig
// (users, padding scheme, fallback and certificate are copies that nothing changes). Thread 0's
// server alone listens; it hands each accepted socket to the next thread in turn (round robin,
// itself included), and that thread's server runs the whole connection: handshake, session,
// streams and targets all live on the reactor that adopted it. max-sessions bounds the sum
// over all threads, through one ConnectionBudget.
//
// Why one acceptor rather than SO_REUSEPORT listeners: a second server started on the same
// port still fails with EADDRINUSE instead of silently sharing it, and the turns are exact
// where reuseport hashes the 4-tuple (a few clients can all land on one thread). The hand-off
// costs one post (a queue push and at most one eventfd write) per connection, next to a TLS
// handshake.
//
// The public functions are for any thread but the group's own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "io/reactor_thread.hpp"
#include "io/tcp.hpp"
#include "log/log.hpp"
#include "server/server.hpp"
#include "server/server_config.hpp"

namespace anytls::server {

// The default of `threads`: the online CPUs, at most kDefaultServerThreadCap.
inline constexpr unsigned kDefaultServerThreadCap = 16;
unsigned default_server_threads();

struct ServerGroupOptions {
    // Each reactor thread logs through it (log::use_on_this_thread); null: the process logger.
    // It must outlive the group.
    const log::Logger* logger = nullptr;
};

class ServerGroup {
public:
    // Starts config.threads reactor threads (default_server_threads() when 0), creates a
    // Server on each and binds thread 0's. Errors: the config's (errc::config, errc::tls_config),
    // the listen address's (a negative errno), or a reactor that cannot start (-EIO).
    static Result<std::unique_ptr<ServerGroup>> start(ServerConfig config,
                                                      ServerGroupOptions options = {});
    ~ServerGroup();  // shutdown(), then the threads end
    ServerGroup(const ServerGroup&) = delete;
    ServerGroup& operator=(const ServerGroup&) = delete;

    // The bound address (with the real port when listen used port 0).
    io::SocketAddress local_address() const { return address_; }
    unsigned thread_count() const { return static_cast<unsigned>(workers_.size()); }
    // The config's `metrics` address (empty: none), for whoever serves metrics().
    const std::string& metrics_address() const { return metrics_address_; }

    // Stops accepting, then on every thread cancels and joins the server's coroutines
    // (docs/DESIGN.md, "Shutdown"). Idempotent; the counters below stay readable. The
    // destructor then ends the threads.
    void shutdown();

    // Server::reload on every thread: the users and the padding scheme of `fresh`. Checked on
    // thread 0 first; on an error no thread changes.
    Result<void> reload(const ServerConfig& fresh);

    // Summed over the threads.
    ServerStats stats() const;
    // The totals and each thread's connections now (the server's /metrics).
    ServerMetrics metrics() const;
    // Per thread, in thread order: authenticated sessions open now, and connections adopted.
    std::vector<std::size_t> sessions_per_thread() const;
    std::vector<std::uint64_t> connections_per_thread() const;
    // Connections open now over all threads, handshaking ones included.
    std::size_t live_connections() const { return budget_->live.load(); }

private:
    struct Worker {
        std::unique_ptr<io::ReactorThread> thread;
        std::unique_ptr<Server> server;  // created, used and destroyed on `thread`
    };
    ServerGroup() = default;
    // Thread 0: the accept loop's hand-off.
    void dispatch(io::Socket socket);

    std::vector<Worker> workers_;
    std::shared_ptr<ConnectionBudget> budget_ = std::make_shared<ConnectionBudget>();
    io::SocketAddress address_;
    std::string metrics_address_;
    std::size_t next_worker_ = 0;  // thread 0 only
    bool shut_down_ = false;
};

}  // namespace anytls::server
