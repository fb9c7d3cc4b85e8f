// SessionPool: the managed pool of warm sessions for one outbound proxy (docs/DESIGN.md, "The
// session pool").
//
// The pool owns the live ClientSessions of one proxy and carries out what pool::PoolPolicy
// decides: every idle-session-check-interval a cleanup cycle asks plan_cleanup() which idle
// sessions to close (idle, then age) and how many to create, then closes them and starts the
// creations asynchronously — a cycle never waits for a handshake. Acquire hands out the newest
// idle session (highest seq) or creates one on demand; when a stream ends, on_stream_end()
// decides whether the session goes back to idle or is closed (past its lifetime, or
// session-reuse = false).
//
// Beyond the references (docs/DESIGN.md, "Session health"): idle sessions of v2 peers are
// probed with HeartRequest and closed when they do not answer; consecutive creation failures
// back off exponentially (a session that dies soon after creation counts as a failure); a
// stream that lands on a reused session which turns out dead before any of its bytes could
// have reached the target is retried once on a fresh session; reset() closes every idle
// session after a network change. Each of those rules is lib/pool's (creation_backoff.hpp,
// heartbeat_schedule.hpp, open_retry.hpp, newest_idle.hpp), the same code the simulator runs;
// this class only gathers the facts, asks, and does the I/O.
//
// Time: decisions read the injectable Clock (tests drive a ManualClock and call run_cycle()
// themselves); only the pacing of the automatic cycle uses a real reactor timer.
// Threads: the pool lives on one reactor (its own, `reactor`), where every decision is taken
// and every counter kept. Its sessions may live on other reactors (`session_reactors`, spread
// evenly): a session is touched only on its own reactor, so the pool hops there (io/hop.hpp)
// to create a session, open a stream on it or ping it, and posts a close to it. A
// PooledStream runs on its session's reactor: called from another, each operation hops there
// and back, so callers that carry bytes (fd relays, the Client's streams) run on the stream's
// reactor instead (docs/DESIGN.md, "Threads"). The C API reaches the pool by posting to it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "client/pool_stats.hpp"
#include "config/pool_settings.hpp"
#include "io/cancellation.hpp"
#include "io/clock.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/task_scope.hpp"
#include "io/timer.hpp"
#include "pool/creation_backoff.hpp"
#include "pool/policy.hpp"
#include "pool/session_snapshot.hpp"
#include "session/client_session.hpp"

namespace anytls::client {

// One pooled session and the pool's bookkeeping about it.
struct PooledSession {
    std::uint64_t seq = 0;
    pool::PoolSessionState state = pool::PoolSessionState::creating;
    std::shared_ptr<session::ClientSession> session;  // null while creating
    io::Reactor* reactor = nullptr;                   // the session's: chosen at reservation
    io::TimePoint created_at{};
    io::TimePoint idle_since{};
    io::Duration lifetime{0};
    io::TimePoint last_heartbeat{};
    bool heartbeat_in_flight = false;
    bool in_pool = true;  // false once closed and forgotten
};

class SessionPool;

// What an open through the pool asks for beyond the target.
struct OpenOptions {
    // Leaves as the stream's first data, with the SYN and the address (a UDP-over-TCP
    // request header; bytes a proxy client sent along with its request).
    std::vector<std::uint8_t> early_data;
    // Return only once the server has connected the target (the SYNACK): a refusal is then
    // the open's error. Off, the stream is handed out as soon as its SYN is queued.
    bool wait_connected = false;
    // The caller gives up: the open ends with -ECANCELED (a creation it waited for goes on,
    // and its session joins the pool). Null: only the timeout and the pool's shutdown end it.
    io::CancellationSource* cancel = nullptr;
};

// A stream opened through the pool. close() (or destruction) ends the stream and hands the
// session back to the pool. The pool must outlive its streams.
//
// Until its SYNACK the stream may move: when the session dies before anything of the stream
// was heard back, the next read, write or wait_connected() replays it (SYN, address, early
// data and everything written so far) on a fresh session, once (docs/DESIGN.md, "When a
// stream is replayed").
class PooledStream {
public:
    PooledStream(SessionPool* pool, std::shared_ptr<PooledSession> entry,
                 session::ClientStream stream, std::string host, std::uint16_t port);
    PooledStream(PooledStream&& other) noexcept;
    PooledStream& operator=(PooledStream&&) = delete;
    PooledStream(const PooledStream&) = delete;
    PooledStream& operator=(const PooledStream&) = delete;
    ~PooledStream();

    io::Task<Result<std::size_t>> read(std::span<std::byte> buffer, io::Duration timeout);
    io::Task<Result<void>> write(std::span<const std::byte> data, io::Duration timeout);
    // Waits for the SYNACK (see session::ClientStream::wait_connected), replaying the stream
    // if its session died first.
    io::Task<Result<void>> wait_connected(io::Duration timeout);
    io::Task<Result<void>> close();
    // Ends the stream now, whatever is in flight on it: its session closes (a write may have
    // left half a frame), so reads, writes and waits on it wake with errc::closed.
    void abort();
    // The caller will write no more and only drains the rest of the answer (its client
    // half-closed). When the pool would take the session back as idle at this point, it does
    // so now, and the session may carry the next stream while this one drains until close();
    // a session the pool would close instead (session-reuse off, past its lifetime) stays with
    // this stream. Returns whether the session was handed back.
    bool linger();

    std::uint64_t session_seq() const { return entry_ ? entry_->seq : 0; }
    // The reactor the stream runs on (its session's); operations called from another hop.
    io::Reactor& reactor() const { return *reactor_; }
    bool warm() const { return warm_; }
    bool closed() const { return closed_; }
    bool replayed() const { return replayed_; }
    void set_warm(bool warm) { warm_ = warm; }

private:
    // Spawned in the pool's scope on the pool's reactor: closes the stream on its session's
    // reactor, then (pool non-null) hands the session back.
    static io::Task<void> close_detached(SessionPool* pool, io::Reactor* pool_reactor,
                                         std::shared_ptr<PooledSession> entry,
                                         std::shared_ptr<session::ClientStream> stream);
    // From any thread: close_detached in the pool's scope (posted when off the pool's reactor).
    void close_in_background(bool hand_back);
    // From any thread: the pool's stream_ended (posted when off the pool's reactor).
    void end_on_pool(bool healthy);
    bool on_pool_reactor() const;
    // After `failed` (the stream in use then) reported `error`: true when the stream now runs
    // on a fresh session (this call or a concurrent one replayed it), so the caller retries.
    io::Task<bool> replay_after(const Error& error, std::shared_ptr<session::ClientStream> failed,
                                io::Duration timeout);
    io::Task<void> wait_for_replay();
    // close() on the stream's reactor.
    io::Task<Result<void>> close_here();

    SessionPool* pool_;
    io::Reactor* home_;     // the pool's reactor
    io::Reactor* reactor_;  // the session's
    std::weak_ptr<bool> pool_alive_;
    std::shared_ptr<PooledSession> entry_;
    // Shared with the operations in flight, so that a replay can swap it under them.
    std::shared_ptr<session::ClientStream> stream_;
    std::string host_;
    std::uint16_t port_ = 0;
    bool warm_ = false;
    bool closed_ = false;
    bool released_ = false;  // linger() handed the session back: close() must not again
    bool replayed_ = false;
    bool replaying_ = false;
    std::unique_ptr<session::Broadcast> replay_done_;
};

class SessionPool {
public:
    // `sequence` numbers sessions across all outbounds of one client, from 1 (docs/DESIGN.md,
    // "The session pool"); it must outlive the pool. `clock` null: the reactor's clock.
    SessionPool(io::Reactor& reactor, std::string proxy_name, session::ClientConfig client_config,
                config::PoolSettings settings, std::shared_ptr<session::PaddingState> padding,
                std::atomic<std::uint64_t>* sequence, io::Clock* clock = nullptr,
                std::uint64_t random_seed = std::random_device{}(),
                std::vector<io::Reactor*> session_reactors = {});
    ~SessionPool();
    SessionPool(const SessionPool&) = delete;
    SessionPool& operator=(const SessionPool&) = delete;

    // Starts the automatic cleanup cycle (every idle-session-check-interval, real time).
    void start();
    // Closes every session, stops the cycle, cancels creations, heartbeats and opens waiting
    // for a session, and resumes once every task of the pool has ended. Call it (and let it
    // finish) before destroying a started pool.
    io::Task<void> shutdown();

    // Opens a stream to host:port on the newest idle session, or on a new one. Returns once
    // the SYN and address are queued (or, with options.wait_connected, once the SYNACK came).
    // A SYN on a v2 session that sat idle for kProbeIdleAfter or more carries a HeartRequest,
    // and the session is taken as dead when neither answers within hedge_timeout().
    io::Task<Result<PooledStream>> open_stream(std::string host, std::uint16_t port,
                                               io::Duration timeout, OpenOptions options = {});

    // One cleanup cycle now (what the automatic cycle runs): idle, age, proactive, heartbeat.
    void run_cycle();
    // Only the heartbeat step (the automatic cycle also wakes for it between cycles when
    // heartbeat-interval is shorter than idle-session-check-interval).
    void run_heartbeats(io::TimePoint now);
    // Closes every idle session (for network changes) and runs a cycle at once, so the pool's
    // target is rebuilt without waiting a check interval; returns how many it closed.
    std::size_t reset();

    // Live reconfiguration: the next cycle uses the new settings. Validate before calling.
    void set_settings(const config::PoolSettings& settings);
    const config::PoolSettings& settings() const { return settings_; }
    const std::string& proxy_name() const { return proxy_name_; }
    // The server's "host:port" ("[v6]:port"), as messages name it.
    std::string server_address() const;

    PoolStats stats() const;
    // The pool as the policy sees it (for tests and tools).
    std::vector<pool::SessionInfo> snapshot() const;
    // Creations started but not finished.
    std::size_t creating() const;

private:
    friend class PooledStream;

    // `on`: the reactor the session will live on (null: the least used of the pool's).
    std::shared_ptr<PooledSession> reserve_entry(io::Reactor* on = nullptr);
    io::Reactor* least_used_reactor() const;
    // Closes entry's session on its reactor (posted there when that is not this one).
    void close_session(const PooledSession& entry);
    io::Task<Result<std::shared_ptr<PooledSession>>> create_session(
        std::shared_ptr<PooledSession> entry, bool proactive);
    static io::Task<void> proactive_create(SessionPool* self, std::shared_ptr<PooledSession> entry);
    struct Creation;
    static io::Task<void> run_creation(SessionPool* self, std::shared_ptr<PooledSession> entry,
                                       std::shared_ptr<Creation> creation);
    // Starts a creation for an open and waits for it until the deadline or a cancellation.
    io::Task<Result<std::shared_ptr<PooledSession>>> join_creation(io::Deadline deadline,
                                                                   io::CancellationSource* cancel);
    static io::Task<void> maintenance_loop(SessionPool* self);
    static io::Task<void> heartbeat(SessionPool* self, std::shared_ptr<PooledSession> entry);
    std::shared_ptr<PooledSession> take_newest_idle();
    void close_entry(const std::shared_ptr<PooledSession>& entry,
                     std::uint64_t PoolStats::*counter);
    void forget(const std::shared_ptr<PooledSession>& entry);
    void prune_dead();
    void stream_ended(const std::shared_ptr<PooledSession>& entry, bool healthy);
    // What pool::on_stream_end decides for entry's stream ending now (stream_ended acts on it).
    pool::StreamEndDecision end_decision(const PooledSession& entry, io::TimePoint now) const;
    bool would_return_to_idle(const PooledSession& entry) const;
    void record_open_latency(io::Duration latency);
    // Forwards the open's SYNACK time to record_open_latency while the pool lives.
    // Called on the stream's reactor; the latency is recorded on the pool's.
    void watch_open_latency(session::ClientStream& stream, io::TimePoint started);
    void note_creation_failure(const Error& error);
    void note_early_death(const PooledSession& entry);

    io::Reactor* reactor_;
    std::string proxy_name_;
    session::ClientConfig client_config_;
    // Where sessions live (at least reactor_), and each one's copy of client_config_ with a
    // TLS context of its own: a wolfSSL context is not shared across threads.
    std::vector<io::Reactor*> session_reactors_;
    std::vector<session::ClientConfig> reactor_configs_;
    config::PoolSettings settings_;
    std::shared_ptr<session::PaddingState> padding_;
    std::atomic<std::uint64_t>* sequence_;
    io::Clock* clock_;
    std::mt19937_64 random_;

    std::vector<std::shared_ptr<PooledSession>> sessions_;  // creating, idle and busy
    PoolStats counters_;
    pool::CreationBackoff backoff_;
    // Creations, heartbeats, the maintenance loop and detached stream closes: shutdown()
    // cancels and joins them, so none outlives the pool (docs/DESIGN.md, "Shutdown").
    io::TaskScope scope_;
    // A session of this proxy said v2 (ServerSettings): a pre-warmed session that has carried
    // no stream yet is then hedged and replayed like any v2 session (docs/DESIGN.md, "Dead warm
    // sessions"), rather than taken for a v1 server when it says nothing.
    bool server_v2_ = false;
    bool started_ = false;
    std::atomic<bool> stopping_{false};  // read by streams on other reactors
    io::CancellationSource wake_;  // cuts the cycle's sleep short: new settings, reset, or shutdown
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // seen by open latency callbacks
};

// A SYN on a session idle at least this long carries a HeartRequest (docs/DESIGN.md, "Dead
// warm sessions"): a path idle for seconds is the one a NAT or a sleeping phone may have lost.
inline constexpr io::Duration kProbeIdleAfter = std::chrono::seconds(2);
// How long a probed open waits for any answer before it moves to a fresh session: a small
// multiple of the session's round-trip time, never less than the floor.
inline constexpr io::Duration kHedgeFloor = std::chrono::milliseconds(300);
inline constexpr int kHedgeRttMultiple = 4;
// How many half-closed streams may drain on one session that went back to the pool meanwhile.
inline constexpr std::size_t kMaxLingeringStreams = 64;
io::Duration hedge_timeout(io::Duration rtt);

}  // namespace anytls::client
