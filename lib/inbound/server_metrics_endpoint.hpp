// ServerMetricsEndpoint: a ServerGroup's /metrics (docs/SERVER.md, "Metrics"), for
// `anytls server` and the C ABI's embedded server alike.
//
// It runs a MetricsServer on a reactor thread of its own: a scrape gathers every server
// thread's counters with ReactorThread::call, which must not run on one of those threads.
// Any thread but its own.
#pragma once

#include <memory>
#include <string>

#include "base/result.hpp"
#include "inbound/metrics_server.hpp"
#include "io/reactor_thread.hpp"
#include "io/tcp.hpp"
#include "log/log.hpp"
#include "server/server_group.hpp"

namespace anytls::inbound {

class ServerMetricsEndpoint {
public:
    // Binds `at` (numeric host:port, as the `metrics` key) and serves the group's metrics
    // there. The group must outlive the endpoint. logger: as ServerGroupOptions::logger.
    static Result<std::unique_ptr<ServerMetricsEndpoint>> start(const server::ServerGroup& group,
                                                                const std::string& at,
                                                                const log::Logger* logger = {});
    ~ServerMetricsEndpoint();  // joins the requests in flight, then ends the thread
    ServerMetricsEndpoint(const ServerMetricsEndpoint&) = delete;
    ServerMetricsEndpoint& operator=(const ServerMetricsEndpoint&) = delete;

    io::SocketAddress address() const { return address_; }

private:
    ServerMetricsEndpoint() = default;
    std::unique_ptr<io::ReactorThread> thread_;
    std::unique_ptr<MetricsServer> server_;  // made, used and destroyed on thread_
    io::SocketAddress address_;
};

}  // namespace anytls::inbound
