// The /metrics endpoint (see metrics_server.hpp).
#include "inbound/metrics_server.hpp"

#include <fmt/format.h>

#include <set>

#include "inbound/http_proxy_parser.hpp"
#include "io/cancellation.hpp"
#include "io/task_scope.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"

namespace anytls::inbound {

struct MetricsContext {
    io::Reactor* reactor = nullptr;
    io::SocketAddress listen;
    std::function<std::vector<ProxyStats>()> collect;
    io::TcpListener listener;
    // The accept loop and the requests run here (they hold this context); stop() cancels their
    // waits, shutdown() joins them (docs/DESIGN.md, "Shutdown").
    std::unique_ptr<io::TaskScope> scope;
    std::set<int> open_connections;
    bool stopping = false;
};

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(5);
constexpr std::size_t kMaxHead = 8 * 1024;

std::string response(int status, std::string_view content_type, const std::string& body) {
    return fmt::format(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        status, http_reason_phrase(status), content_type, body.size(), body);
}

// The reply for one request head (the part before the blank line).
std::string answer(MetricsContext& context, std::string_view head) {
    const auto line_end = head.find_first_of("\r\n");
    const std::string_view line = head.substr(0, line_end);
    const auto first = line.find(' ');
    const auto second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos)
        return http_error_response(400, "the request line is not \"GET /metrics HTTP/1.1\"");
    const std::string_view method = line.substr(0, first);
    std::string_view path = line.substr(first + 1, second - first - 1);
    if (const auto query = path.find('?'); query != std::string_view::npos)
        path = path.substr(0, query);
    if (path != "/metrics")
        return http_error_response(404, "not found; the metrics are at /metrics");
    if (method != "GET" && method != "HEAD")
        return http_error_response(405, "only GET and HEAD are served");
    std::string full =
        response(200, prometheus_content_type, format_prometheus_metrics(context.collect()));
    if (method == "HEAD") full.resize(full.find("\r\n\r\n") + 4);
    return full;
}

io::Task<void> serve(std::shared_ptr<MetricsContext> context, io::Socket socket) {
    io::Reactor& r = *context->reactor;
    const int fd = socket.fd();
    context->open_connections.insert(fd);
    const io::Deadline deadline = io::Deadline::after(kRequestTimeout);
    std::string head;
    char chunk[2048];
    bool complete = false;
    while (head.size() <= kMaxHead) {
        auto receive = io::recv(r, fd, chunk, sizeof chunk, deadline.remaining(),
                                &context->scope->cancellation());
        auto n = co_await receive;
        if (!n || *n == 0) break;
        head.append(chunk, *n);
        if (head.find("\r\n\r\n") != std::string::npos || head.find("\n\n") != std::string::npos) {
            complete = true;
            break;
        }
    }
    if (complete || head.size() > kMaxHead) {
        const std::string reply = complete
                                      ? answer(*context, head)
                                      : http_error_response(431, "the request head is too large");
        (void)co_await io::send_all(r, fd, std::as_bytes(std::span<const char>(reply)),
                                    kRequestTimeout, &context->scope->cancellation());
    }
    socket.shutdown(SHUT_WR);
    context->open_connections.erase(fd);
}

io::Task<void> accept_loop(std::shared_ptr<MetricsContext> context) {
    io::Reactor& r = *context->reactor;
    while (!context->stopping) {
        auto accept = context->listener.accept(r, &context->scope->cancellation());
        auto accepted = co_await accept;
        if (context->stopping) break;
        if (!accepted) {
            log::warn("[AnyTLS] metrics: accept failed: {}", accepted.error().text());
            (void)co_await io::sleep_for(r, std::chrono::milliseconds(100),
                                         &context->scope->cancellation());
            continue;
        }
        context->scope->spawn(serve(context, std::move(accepted).value()));
    }
}

}  // namespace

MetricsServer::MetricsServer(io::Reactor& reactor, io::SocketAddress listen,
                             std::function<std::vector<ProxyStats>()> collect)
    : context_(std::make_shared<MetricsContext>()) {
    context_->reactor = &reactor;
    context_->listen = listen;
    context_->collect = std::move(collect);
    context_->scope = std::make_unique<io::TaskScope>(reactor);
}

MetricsServer::~MetricsServer() { stop(); }

Result<io::SocketAddress> MetricsServer::start() {
    auto listener = io::TcpListener::listen(context_->listen);
    if (!listener) return std::move(listener).error();
    context_->listener = std::move(listener).value();
    context_->scope->spawn(accept_loop(context_));
    return context_->listener.address();
}

void MetricsServer::stop() {
    if (context_->stopping) return;
    context_->stopping = true;
    context_->scope->cancel();
    for (int fd : context_->open_connections) ::shutdown(fd, SHUT_RDWR);
}

io::Task<void> MetricsServer::shutdown() {
    stop();
    co_await context_->scope->join();
}

}  // namespace anytls::inbound
