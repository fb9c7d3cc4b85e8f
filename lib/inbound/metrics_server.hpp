// MetricsServer: a minimal HTTP/1.1 endpoint that answers GET /metrics with a Prometheus text:
// the pools' statistics for `anytls socks --metrics ADDR` (metrics_text.hpp), the server's for
// `anytls server` (server_metrics_text.hpp).
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
    // `render` runs on the reactor thread for every scrape and returns the text served.
    MetricsServer(io::Reactor& reactor, io::SocketAddress listen,
                  std::function<std::string()> render);
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
