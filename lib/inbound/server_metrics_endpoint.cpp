// A ServerGroup's /metrics on a thread of its own (see server_metrics_endpoint.hpp).
#include "inbound/server_metrics_endpoint.hpp"

#include <cerrno>
#include <exception>
#include <string>

#include "inbound/server_metrics_text.hpp"
#include "io/run_blocking.hpp"

namespace anytls::inbound {

Result<std::unique_ptr<ServerMetricsEndpoint>> ServerMetricsEndpoint::start(
    const server::ServerGroup& group, const std::string& at_text, const log::Logger* logger) {
    auto parsed = io::SocketAddress::parse_host_port(at_text);
    if (!parsed) return std::move(parsed).error();
    const io::SocketAddress at = parsed.value();
    std::unique_ptr<ServerMetricsEndpoint> endpoint(new ServerMetricsEndpoint());
    try {
        endpoint->thread_ = std::make_unique<io::ReactorThread>();
    } catch (const std::exception& e) {
        return make_error(-EIO, std::string("cannot start the metrics reactor: ") + e.what());
    }
    ServerMetricsEndpoint* self = endpoint.get();
    auto bound = self->thread_->call([&]() -> Result<io::SocketAddress> {
        if (logger) log::use_on_this_thread(logger);
        self->server_ = std::make_unique<MetricsServer>(self->thread_->reactor(), at, [&group] {
            return format_server_metrics(group.metrics());
        });
        return self->server_->start();
    });
    if (!bound) return std::move(bound).error();
    endpoint->address_ = bound.value();
    return endpoint;
}

ServerMetricsEndpoint::~ServerMetricsEndpoint() {
    if (!thread_) return;
    if (server_) io::run_blocking(*thread_, server_->shutdown());
    thread_->call([this] { server_.reset(); });
    thread_.reset();
}

}  // namespace anytls::inbound
