// MetricsServer: a minimal HTTP/1.1 endpoint for `anytls socks --metrics ADDR` that answers
// GET /metrics with the pools' statistics in the Prometheus text format (metrics_text.hpp).
// One request per connection (Connection: close); the request head must arrive within 5 s
// and fit in 8 KiB; other paths get 404, other methods 405. Reactor thread only.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "inbound/metrics_text.hpp"
#include "io/reactor.hpp"
#include "io/tcp.hpp"

namespace anytls::inbound {

struct MetricsContext;

class MetricsServer {
public:
    // `collect` runs on the reactor thread for every scrape.
    MetricsServer(io::Reactor& reactor, io::SocketAddress listen,
                  std::function<std::vector<ProxyStats>()> collect);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    Result<io::SocketAddress> start();
    void stop();
    // stop(), then resumes once the accept loop and every request have ended.
    io::Task<void> shutdown();

private:
    std::shared_ptr<MetricsContext> context_;
};

}  // namespace anytls::inbound
