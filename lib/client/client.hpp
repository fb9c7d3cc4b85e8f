// Client: one configuration's outbounds, their session pools, and the reactor thread they live
// on — the object behind the C ABI's anytls_client (docs/DESIGN.md, "Ownership and lifetimes").
//
// A Client owns a ReactorThread; every pool (one per [[proxies]] entry) and every session
// belongs to it. The public functions here may be called from any thread: they post to the
// reactor and wait for the answer, so they block the caller, never the reactor. Streams are
// blocking too, each call with its own timeout, and can instead be handed out as one end of a
// connected socket pair that the reactor relays (docs/DESIGN.md, "Streams as file
// descriptors").
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "client/pending_open.hpp"
#include "client/session_pool.hpp"
#include "config/config.hpp"
#include "io/reactor_thread.hpp"
#include "io/task_scope.hpp"
#include "log/log.hpp"

namespace anytls::client {

class Client;
struct StreamState;

// A stream opened through a Client. Thread-safe: one reader and one writer may use it at
// once from different threads. Destroying it closes the stream.
class Stream {
public:
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // n > 0 bytes, 0 at the end of the stream, or an error (-ETIMEDOUT leaves it usable).
    Result<std::size_t> read(std::span<std::byte> buffer, io::Duration timeout);
    Result<void> write(std::span<const std::byte> data, io::Duration timeout);
    Result<void> close();
    // Hands the stream over to a socket pair: returns the caller's end (a connected
    // AF_UNIX stream socket, non-blocking, close-on-exec); the reactor relays the other end
    // to the stream until either side closes. This Stream is closed afterwards.
    Result<int> into_fd();

    std::uint64_t session_seq() const;
    bool warm() const;

    // For Client: StreamState is internal, so nothing else can make one.
    explicit Stream(std::shared_ptr<StreamState> state) : state_(std::move(state)) {}

private:
    friend class Client;
    std::shared_ptr<StreamState> state_;
};

// Proof that the holder runs on a Client's reactor thread: only Client::on_reactor_thread
// makes one, for the function it runs there. Reactor-only parts of the client (a SessionPool)
// are handed out against it, so code on another thread cannot reach them by mistake
// (docs/DESIGN.md, "Threads").
class OnReactorThread {
public:
    OnReactorThread(const OnReactorThread&) = delete;
    OnReactorThread& operator=(const OnReactorThread&) = delete;

private:
    friend class Client;
    OnReactorThread() = default;
};

class Client {
public:
    // Starts the reactor thread and one pool per proxy (each begins its cleanup cycle).
    static Result<std::unique_ptr<Client>> create(config::ResolvedConfig config);
    static Result<std::unique_ptr<Client>> from_toml(std::string_view toml_text);
    static Result<std::unique_ptr<Client>> from_file(const std::string& path);
    // Closes every stream and session, then stops the reactor thread.
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    std::vector<std::string> proxy_names() const;
    Result<config::PoolSettings> pool_settings(const std::string& proxy);
    // Validated like the file; the next cleanup cycle uses it.
    Result<void> set_pool_settings(const std::string& proxy, const config::PoolSettings& settings);
    Result<PoolStats> stats(const std::string& proxy);
    Result<std::size_t> reset(const std::string& proxy);
    // Closes every stream opened through this client that is still open (not those handed to
    // an fd), from any thread: calls blocked on them in other threads return "closed" at once.
    // The client keeps the one list of its open streams; the C ABI's close uses it.
    void close_streams();

    // Returns once the stream's SYN is queued: a refused target is then the first read's or
    // write's error. wait_connected: once the server's SYNACK came, a refusal being the
    // open's error (docs/DESIGN.md, "Opening a stream").
    Result<std::unique_ptr<Stream>> open_stream(const std::string& proxy, const std::string& host,
                                                std::uint16_t port, io::Duration timeout,
                                                bool wait_connected = false);

    // Returns at once: the open runs on the reactor, and its notify_fd() turns readable when
    // it ended (docs/DESIGN.md, "Pending opens"). The stream comes as a file descriptor.
    Result<std::unique_ptr<PendingOpen>> start_open(const std::string& proxy,
                                                    const std::string& host, std::uint16_t port,
                                                    io::Duration timeout);

    // This client's level and sink, used by everything that runs on its reactor thread
    // (docs/DESIGN.md, "Logging"). Starts at the configuration's log-level; sink: the process's.
    log::Logger& logger() { return *logger_; }

    io::ReactorThread& reactor_thread() { return *thread_; }
    // Runs fn(const OnReactorThread&) on the reactor thread and returns its result, for code
    // that uses a pool's coroutine API directly (the `anytls socks` entry point).
    template <class F>
    auto on_reactor_thread(F&& fn) {
        return thread_->call([&fn] {
            const OnReactorThread on_reactor;
            return fn(on_reactor);
        });
    }
    // The pool of one proxy; reactor thread only, hence the token. Null for an unknown name.
    std::shared_ptr<SessionPool> pool(const std::string& proxy, const OnReactorThread& on_reactor);

private:
    struct Outbound {
        config::ProxyConfig config;
        std::shared_ptr<SessionPool> pool;
    };
    Client() = default;
    Result<Outbound*> find(const std::string& proxy);
    // find(), plus the checks every open makes of its target host and timeout.
    Result<Outbound*> find_for_open(const std::string& proxy, const std::string& host,
                                    io::Duration timeout);

    config::ResolvedConfig config_;
    std::unique_ptr<log::Logger> logger_;  // before thread_: outlives the reactor thread
    std::unique_ptr<io::ReactorThread> thread_;
    // Reactor thread: the client's own tasks (fd relays, pending opens), joined at shutdown.
    std::unique_ptr<io::TaskScope> scope_;
    std::vector<Outbound> outbounds_;
    std::atomic<std::uint64_t> sequence_{0};
    std::shared_ptr<session::PaddingState> padding_;
    std::mutex streams_mutex_;
    std::vector<std::weak_ptr<StreamState>> streams_;
};

}  // namespace anytls::client
