// The /metrics endpoint (see metrics_server.hpp).
#include "inbound/metrics_server.hpp"

#include <fmt/format.h>

#include <set>

#include "inbound/http_proxy_parser.hpp"
#include "inbound/listening_service.hpp"
#include "io/cancellation.hpp"
#include "io/task_scope.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"

namespace anytls::inbound {

// The accept loop and the requests run in the service's scope (ListeningService).
struct MetricsContext : ListeningService {
    using ListeningService::ListeningService;
    io::SocketAddress address;
    std::function<std::string()> render;
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
    std::string full = response(200, prometheus_content_type, context.render());
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
    return accept_until_stopped(context, "metrics", [context](io::Socket socket) {
        context->scope->spawn(serve(context, std::move(socket)));
    });
}

}  // namespace

MetricsServer::MetricsServer(io::Reactor& reactor, io::SocketAddress listen,
                             std::function<std::string()> render)
    : context_(std::make_shared<MetricsContext>(reactor)) {
    context_->address = listen;
    context_->render = std::move(render);
}

MetricsServer::~MetricsServer() { stop(); }

Result<io::SocketAddress> MetricsServer::start() {
    return context_->listen(context_->address, accept_loop(context_));
}

void MetricsServer::stop() { context_->stop(); }

// The task keeps the context: the caller may drop this object before it ends.
io::Task<void> MetricsServer::shutdown() {
    const auto context = context_;
    co_await context->shutdown();
}

}  // namespace anytls::inbound
