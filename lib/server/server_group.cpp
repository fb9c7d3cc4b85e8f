// ServerGroup: one Server per reactor thread, one acceptor (see server_group.hpp).
#include "server/server_group.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <exception>
#include <string>
#include <utility>

#include "base/errors.hpp"
#include "io/run_blocking.hpp"

namespace anytls::server {

unsigned default_server_threads() {
    const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) return 1;
    return std::min(static_cast<unsigned>(online), kDefaultServerThreadCap);
}

Result<std::unique_ptr<ServerGroup>> ServerGroup::start(ServerConfig config,
                                                        ServerGroupOptions options) {
    const unsigned threads = config.threads == 0 ? default_server_threads() : config.threads;
    std::unique_ptr<ServerGroup> group(new ServerGroup());
    group->workers_.resize(threads);
    for (Worker& worker : group->workers_) {
        try {
            worker.thread = std::make_unique<io::ReactorThread>();
        } catch (const std::exception& e) {
            return make_error(-EIO, std::string("cannot start a server reactor: ") + e.what());
        }
        if (const log::Logger* logger = options.logger)
            worker.thread->call([logger] { log::use_on_this_thread(logger); });
        auto created = worker.thread->call([&]() -> Result<void> {
            auto made = Server::create(worker.thread->reactor(), config, group->budget_);
            if (!made) return std::move(made).error();
            worker.server = std::move(made).value();
            return {};
        });
        if (!created) return std::move(created).error();
    }
    ServerGroup* self = group.get();
    Worker& acceptor = group->workers_.front();
    auto listening = acceptor.thread->call([&]() -> Result<io::SocketAddress> {
        Server::Dispatch dispatch;
        if (threads > 1)
            dispatch = [self](io::Socket socket) { self->dispatch(std::move(socket)); };
        if (auto started = acceptor.server->start(std::move(dispatch)); !started)
            return std::move(started).error();
        return acceptor.server->local_address();
    });
    if (!listening) return std::move(listening).error();
    group->address_ = listening.value();
    group->metrics_address_ = config.metrics;
    if (threads > 1)
        log::info("[AnyTLS] server: {} reactor threads, connections handed out in turn", threads);
    return group;
}

void ServerGroup::dispatch(io::Socket socket) {
    const std::size_t index = next_worker_++ % workers_.size();
    Worker& worker = workers_[index];
    if (index == 0) {
        worker.server->adopt(std::move(socket));
        return;
    }
    // Held so that a post the reactor never runs still closes the socket. The server outlives
    // the post: shutdown() joins thread 0 first, and each later thread's shutdown is posted
    // behind every hand-off already queued to it.
    auto held = std::make_shared<io::Socket>(std::move(socket));
    Server* server = worker.server.get();
    worker.thread->post([server, held] { server->adopt(std::move(*held)); });
}

void ServerGroup::shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    // Thread 0 first: once its accept loop has ended, nothing is handed out any more.
    for (Worker& worker : workers_)
        if (worker.thread && worker.server)
            io::run_blocking(*worker.thread, worker.server->shutdown());
}

ServerGroup::~ServerGroup() {
    shutdown();
    for (Worker& worker : workers_) {
        if (!worker.thread) continue;
        worker.thread->call([&worker] { worker.server.reset(); });
        worker.thread.reset();
    }
}

Result<void> ServerGroup::reload(const ServerConfig& fresh) {
    if (shut_down_) return make_error(errc::closed, "server stopped");
    // Every thread gets the same input, so one that fails would fail everywhere: the first
    // decides, and the rest cannot differ.
    for (Worker& worker : workers_) {
        auto reloaded = worker.thread->call([&] { return worker.server->reload(fresh); });
        if (!reloaded) return reloaded;
    }
    return {};
}

ServerStats ServerGroup::stats() const { return metrics().totals; }

ServerMetrics ServerGroup::metrics() const {
    ServerMetrics metrics;
    for (const Worker& worker : workers_) {
        if (!worker.thread || !worker.server) continue;
        auto [stats, state] = worker.thread->call(
            [&worker] { return std::pair(worker.server->stats(), worker.server->state()); });
        metrics.totals.add(stats);
        metrics.threads.push_back(state);
    }
    return metrics;
}

std::vector<std::size_t> ServerGroup::sessions_per_thread() const {
    std::vector<std::size_t> counts;
    for (const ServerThreadState& thread : metrics().threads) counts.push_back(thread.sessions);
    return counts;
}

std::vector<std::uint64_t> ServerGroup::connections_per_thread() const {
    std::vector<std::uint64_t> counts;
    for (const ServerThreadState& thread : metrics().threads)
        counts.push_back(thread.connections_accepted);
    return counts;
}

}  // namespace anytls::server
