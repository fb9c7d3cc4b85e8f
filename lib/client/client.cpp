// Client: pools per proxy on a reactor thread, reached from any thread (see client.hpp).
#include "client/client.hpp"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/errors.hpp"
#include "base/page_buffer.hpp"
#include "client/fd_relay.hpp"
#include "client/fd_stream_errors.hpp"
#include "client/pending_open_state.hpp"
#include "io/run_blocking.hpp"
#include "io/tcp.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"
#include "tls/pem_files.hpp"

namespace anytls::client {

// What a Stream handle points at. `stream` is touched only on the reactor thread; each
// operation holds a reference to it, so close() never destroys it under a suspended read.
struct StreamState {
    io::ReactorThread* thread = nullptr;
    io::TaskScope* scope = nullptr;     // the Client's: fd relays run in it
    std::shared_ptr<SessionPool> pool;  // keeps the pool alive while the stream exists
    std::mutex mutex;                   // guards `stream`: callers copy it, close() takes it
    std::shared_ptr<PooledStream> stream;
    std::atomic<bool> closed{false};
    std::atomic<int> calls{0};  // reads and writes in progress on other threads
    std::uint64_t seq = 0;
    bool warm = false;
};

namespace {

Error closed_error() { return make_error(errc::closed, "the stream is closed"); }

io::Task<Result<std::size_t>> stream_read(std::shared_ptr<PooledStream> s,
                                          std::span<std::byte> buffer, io::Duration timeout) {
    co_return co_await s->read(buffer, timeout);
}

io::Task<Result<void>> stream_write(std::shared_ptr<PooledStream> s,
                                    std::span<const std::byte> data, io::Duration timeout) {
    co_return co_await s->write(data, timeout);
}

std::shared_ptr<PooledStream> take_stream(StreamState& st) {
    std::lock_guard lock(st.mutex);
    return std::move(st.stream);
}

std::shared_ptr<PooledStream> copy_stream(StreamState& st) {
    std::lock_guard lock(st.mutex);
    return st.stream;
}

io::Task<Result<void>> stream_close(std::shared_ptr<StreamState> st) {
    auto s = take_stream(*st);
    if (!s) co_return Result<void>{};
    // A call blocked on the stream (a write to a target that never reads) would keep the FIN
    // waiting behind it: end the stream at once instead, which wakes the call (docs/C-API.md).
    if (st->calls.load() > 0) {
        s->abort();
        co_return Result<void>{};
    }
    co_return co_await s->close();
}

// Counts a read or write in progress, for stream_close.
struct CallInProgress {
    explicit CallInProgress(StreamState& st) : state(st) { ++state.calls; }
    ~CallInProgress() { --state.calls; }
    StreamState& state;
};

io::Task<Result<std::unique_ptr<Stream>>> open_on_pool(std::shared_ptr<SessionPool> pool,
                                                       std::string host, std::uint16_t port,
                                                       io::Duration timeout,
                                                       io::ReactorThread* thread,
                                                       io::TaskScope* scope, bool wait_connected) {
    OpenOptions options;
    options.wait_connected = wait_connected;
    auto opened = co_await pool->open_stream(std::move(host), port, timeout, std::move(options));
    if (!opened) co_return std::move(opened).error();
    auto state = std::make_shared<StreamState>();
    state->thread = thread;
    state->scope = scope;
    state->pool = pool;
    state->seq = opened->session_seq();
    state->warm = opened->warm();
    state->stream = std::make_shared<PooledStream>(std::move(opened).value());
    co_return std::unique_ptr<Stream>(new Stream(state));
}

// A PendingOpen's coroutine (docs/DESIGN.md, "Pending opens"): the open, cancellable through
// the state, then the hand-over to a socket pair.
io::Task<void> run_pending_open(std::shared_ptr<SessionPool> pool, std::string host,
                                std::uint16_t port, io::Duration timeout, io::TaskScope* scope,
                                std::shared_ptr<PendingOpenState> state) {
    OpenOptions options;
    options.cancel = &state->cancel;
    auto opened = co_await pool->open_stream(std::move(host), port, timeout, std::move(options));
    if (!opened) {
        state->finish(std::move(opened).error());
        co_return;
    }
    auto stream = std::make_shared<PooledStream>(std::move(opened).value());
    state->finish(hand_over_to_fd(*io::Reactor::current(), *scope, std::move(stream)));
}

// The client's shutdown (docs/DESIGN.md, "Shutdown"): the pools end their sessions, which
// ends the streams; then the client's own tasks (fd relays, pending opens) are cancelled and
// joined.
io::Task<void> shutdown_client(std::vector<std::shared_ptr<SessionPool>> pools,
                               io::TaskScope* scope) {
    for (auto& p : pools) co_await p->shutdown();
    scope->cancel();
    co_await scope->join();
}

session::ClientConfig to_client_config(const config::ProxyConfig& p) {
    session::ClientConfig c;
    c.server_host = p.server;
    c.server_port = p.port;
    c.password = p.password;
    c.sni = p.sni;
    c.skip_verify = p.skip_cert_verify;
    c.ca_file = p.ca_file;
    c.pinned_sha256 = p.fingerprint;
    c.alpn = p.alpn;
    // client-name and tcp-keepalive are pool settings, which may change live: the pool lays
    // them over this at every creation (SessionPool::create_session), so they are not set here.
    return c;
}

}  // namespace

// --- Stream -------------------------------------------------------------------------------

Stream::~Stream() { (void)close(); }

Result<std::size_t> Stream::read(std::span<std::byte> buffer, io::Duration timeout) {
    if (state_->closed.load()) return closed_error();
    CallInProgress call(*state_);
    std::shared_ptr<PooledStream> s = copy_stream(*state_);
    if (!s) return closed_error();
    return io::run_blocking(*state_->thread, stream_read(std::move(s), buffer, timeout));
}

Result<void> Stream::write(std::span<const std::byte> data, io::Duration timeout) {
    if (state_->closed.load()) return closed_error();
    CallInProgress call(*state_);
    std::shared_ptr<PooledStream> s = copy_stream(*state_);
    if (!s) return closed_error();
    return io::run_blocking(*state_->thread, stream_write(std::move(s), data, timeout));
}

namespace {
// Stream::close on a stream's state: once, whoever gets there first.
Result<void> close_once(const std::shared_ptr<StreamState>& state) {
    if (state->closed.exchange(true)) return {};
    return io::run_blocking(*state->thread, stream_close(state));
}
}  // namespace

Result<void> Stream::close() { return close_once(state_); }

Result<int> Stream::into_fd() {
    if (state_->closed.exchange(true)) return closed_error();
    std::shared_ptr<PooledStream> stream = take_stream(*state_);
    if (!stream) return closed_error();
    StreamState* st = state_.get();
    return st->thread->call([st, &stream] {
        return hand_over_to_fd(st->thread->reactor(), *st->scope, std::move(stream));
    });
}

std::uint64_t Stream::session_seq() const { return state_->seq; }
bool Stream::warm() const { return state_->warm; }

// --- Client -------------------------------------------------------------------------------

namespace {

// The ca-file of each proxy is checked as the configuration loads, so its error names the key
// and the line.
config::LoadOptions client_load_options() {
    config::LoadOptions options;
    options.check_ca_file = tls::check_ca_file;
    return options;
}

}  // namespace

Result<std::unique_ptr<Client>> Client::from_toml(std::string_view toml_text) {
    const config::LoadOptions options = client_load_options();
    auto loaded = config::load_config(toml_text, options);
    if (!loaded) return std::move(loaded).error();
    return create(std::move(loaded).value());
}

Result<std::unique_ptr<Client>> Client::from_file(const std::string& path) {
    config::LoadOptions options = client_load_options();
    options.source_name = path;
    auto loaded = config::load_config_file(path, options);
    if (!loaded) return std::move(loaded).error();
    return create(std::move(loaded).value());
}

Result<std::unique_ptr<Client>> Client::create(config::ResolvedConfig config) {
    std::unique_ptr<Client> client(new Client());
    // The client's own level and sink (docs/DESIGN.md, "Logging"): its log-level changes no
    // other client's, nor the process logger's.
    client->logger_ = std::make_unique<log::Logger>(config::to_log_threshold(config.log_level));
    const log::ScopedLogger on_caller_thread(*client->logger_);
    for (const auto& w : config.warnings) log::warn("{}", w);
    try {
        client->thread_ = std::make_unique<io::ReactorThread>();
    } catch (const std::exception& e) {
        return make_error(-EIO, std::string("cannot start the reactor: ") + e.what());
    }
    const log::Logger* logger = client->logger_.get();
    client->thread_->call([logger] { log::use_on_this_thread(logger); });
    client->padding_ = std::make_shared<session::PaddingState>();
    client->config_ = std::move(config);
    Client* c = client.get();
    auto made = c->thread_->call([c]() -> Result<void> {
        c->scope_ = std::make_unique<io::TaskScope>(c->thread_->reactor());
        for (const auto& proxy : c->config_.proxies) {
            session::ClientConfig cc = to_client_config(proxy);
            if (auto prepared = session::prepare_client_config(cc); !prepared) {
                return make_error(errc::config,
                                  "proxy \"" + proxy.name + "\": " + prepared.error().text());
            }
            Outbound o;
            o.config = proxy;
            o.pool = std::make_shared<SessionPool>(c->thread_->reactor(), proxy.name, cc,
                                                   proxy.pool, c->padding_, &c->sequence_);
            o.pool->start();
            c->outbounds_.push_back(std::move(o));
        }
        return {};
    });
    if (!made) return std::move(made).error();
    return client;
}

Client::~Client() {
    if (!thread_) return;
    const log::ScopedLogger on_caller_thread(*logger_);
    // Streams the caller still holds answer "closed" from now on; their stream objects are
    // released here, on the reactor thread, while it still runs.
    std::vector<std::shared_ptr<PooledStream>> orphans;
    {
        std::lock_guard lock(streams_mutex_);
        for (auto& weak : streams_) {
            if (auto st = weak.lock()) {
                st->closed = true;
                if (auto s = take_stream(*st)) orphans.push_back(std::move(s));
            }
        }
    }
    thread_->call([&orphans] { orphans.clear(); });
    std::vector<std::shared_ptr<SessionPool>> pools;
    for (auto& o : outbounds_) pools.push_back(o.pool);
    if (scope_) {
        io::run_blocking(*thread_, shutdown_client(std::move(pools), scope_.get()));
        thread_->call([this] { scope_.reset(); });
    }
    thread_->stop();
}

std::vector<std::string> Client::proxy_names() const {
    std::vector<std::string> names;
    for (const auto& o : outbounds_) names.push_back(o.config.name);
    return names;
}

Result<Client::Outbound*> Client::find(const std::string& proxy) {
    for (auto& o : outbounds_) {
        if (o.config.name == proxy) return &o;
    }
    std::string names;
    for (const auto& o : outbounds_) names += (names.empty() ? "" : ", ") + o.config.name;
    return make_error(errc::invalid_argument, "unknown proxy \"" + proxy + "\" (configured: " +
                                                  (names.empty() ? "none" : names) + ")");
}

Result<config::PoolSettings> Client::pool_settings(const std::string& proxy) {
    auto o = find(proxy);
    if (!o) return std::move(o).error();
    SessionPool* pool = o.value()->pool.get();
    return thread_->call([pool] { return pool->settings(); });
}

Result<void> Client::set_pool_settings(const std::string& proxy,
                                       const config::PoolSettings& settings) {
    auto o = find(proxy);
    if (!o) return std::move(o).error();
    auto valid = config::validate(settings);
    if (!valid) return make_error(errc::config, "proxy \"" + proxy + "\": " + valid.error().text());
    SessionPool* pool = o.value()->pool.get();
    thread_->call([pool, settings] { pool->set_settings(settings); });
    return {};
}

std::shared_ptr<SessionPool> Client::pool(const std::string& proxy, const OnReactorThread&) {
    for (auto& o : outbounds_)
        if (o.config.name == proxy) return o.pool;
    return nullptr;
}

Result<PoolStats> Client::stats(const std::string& proxy) {
    auto o = find(proxy);
    if (!o) return std::move(o).error();
    SessionPool* pool = o.value()->pool.get();
    return thread_->call([pool] { return pool->stats(); });
}

Result<std::size_t> Client::reset(const std::string& proxy) {
    auto o = find(proxy);
    if (!o) return std::move(o).error();
    SessionPool* pool = o.value()->pool.get();
    return thread_->call([pool] { return pool->reset(); });
}

Result<Client::Outbound*> Client::find_for_open(const std::string& proxy, const std::string& host,
                                                io::Duration timeout) {
    auto o = find(proxy);
    if (!o) return o;
    if (host.empty()) return make_error(errc::invalid_argument, "empty target host");
    if (timeout <= io::Duration::zero())
        return make_error(errc::invalid_argument, "the timeout must be positive");
    return o;
}

void Client::close_streams() {
    std::vector<std::shared_ptr<StreamState>> open;
    {
        std::lock_guard lock(streams_mutex_);
        for (auto& weak : streams_)
            if (auto st = weak.lock()) open.push_back(std::move(st));
    }
    for (auto& st : open) (void)close_once(st);
}

Result<std::unique_ptr<Stream>> Client::open_stream(const std::string& proxy,
                                                    const std::string& host, std::uint16_t port,
                                                    io::Duration timeout, bool wait_connected) {
    auto o = find_for_open(proxy, host, timeout);
    if (!o) return std::move(o).error();
    auto stream =
        io::run_blocking(*thread_, open_on_pool(o.value()->pool, host, port, timeout, thread_.get(),
                                                scope_.get(), wait_connected));
    if (stream) {
        std::lock_guard lock(streams_mutex_);
        std::erase_if(streams_, [](const auto& w) { return w.expired(); });
        streams_.push_back(stream.value()->state_);
    }
    return stream;
}

Result<std::unique_ptr<PendingOpen>> Client::start_open(const std::string& proxy,
                                                        const std::string& host, std::uint16_t port,
                                                        io::Duration timeout) {
    auto o = find_for_open(proxy, host, timeout);
    if (!o) return std::move(o).error();
    const int notify = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (notify < 0) {
        int err = errno;
        return make_error(-err, std::string("eventfd: ") + std::strerror(err));
    }
    auto state = std::make_shared<PendingOpenState>(thread_->reactor(), notify);
    std::shared_ptr<SessionPool> pool = o.value()->pool;
    io::TaskScope* scope = scope_.get();
    thread_->post([pool, host, port, timeout, scope, state] {
        scope->spawn(run_pending_open(pool, host, port, timeout, scope, state));
    });
    return std::make_unique<PendingOpen>(std::move(state));
}

}  // namespace anytls::client
