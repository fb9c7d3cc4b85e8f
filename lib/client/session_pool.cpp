// SessionPool: carrying out the pool policy on the reactor (see session_pool.hpp).
#include "client/session_pool.hpp"

#include <algorithm>
#include <cerrno>

#include "base/errors.hpp"
#include "base/host_port.hpp"
#include "io/hop.hpp"
#include "io/timer.hpp"
#include "log/log.hpp"
#include "pool/creation_backoff.hpp"
#include "pool/heartbeat_schedule.hpp"
#include "pool/lifetime.hpp"
#include "pool/newest_idle.hpp"
#include "pool/open_retry.hpp"
#include "pool/plan.hpp"
#include "pool/policy.hpp"

namespace anytls::client {

namespace {

pool::SessionInfo info_of(const PooledSession& e) {
    pool::SessionInfo info;
    info.seq = e.seq;
    info.state = e.state;
    info.created_at = e.created_at;
    info.idle_since = e.idle_since;
    info.lifetime = e.lifetime;
    return info;
}

// A handle to a session that lives on another reactor than the pool: when the last handle
// goes (on the pool's reactor, as the pool forgets the entry), the session itself is released
// on its own reactor, so it is destroyed on the thread that owns its sockets and timers.
std::shared_ptr<session::ClientSession> released_on(io::Reactor& reactor,
                                                    std::shared_ptr<session::ClientSession> s) {
    session::ClientSession* raw = s.get();
    return std::shared_ptr<session::ClientSession>(
        raw, [on = &reactor, keep = std::move(s)](session::ClientSession*) mutable {
            if (io::Reactor::current() == on) {
                keep.reset();
                return;
            }
            on->post([last = std::move(keep)]() mutable { last.reset(); });
        });
}

// The reactor the calling code runs on. A thread that runs none is taken for the pool's own
// (a test that drives the pool's reactor itself between calls).
io::Reactor& running_on(io::Reactor* pool_reactor) {
    io::Reactor* current = io::Reactor::current();
    return current ? *current : *pool_reactor;
}

}  // namespace

// --- PooledStream -------------------------------------------------------------------------

io::Duration hedge_timeout(io::Duration rtt) {
    return std::max(kHedgeFloor, kHedgeRttMultiple * rtt);
}

PooledStream::PooledStream(SessionPool* pool, std::shared_ptr<PooledSession> entry,
                           session::ClientStream stream, std::string host, std::uint16_t port)
    : pool_(pool),
      home_(pool->reactor_),
      reactor_(entry->reactor),
      pool_alive_(pool->alive_),
      entry_(std::move(entry)),
      stream_(std::make_shared<session::ClientStream>(std::move(stream))),
      host_(std::move(host)),
      port_(port) {}

PooledStream::PooledStream(PooledStream&& other) noexcept
    : pool_(other.pool_),
      home_(other.home_),
      reactor_(other.reactor_),
      pool_alive_(std::move(other.pool_alive_)),
      entry_(std::move(other.entry_)),
      stream_(std::move(other.stream_)),
      host_(std::move(other.host_)),
      port_(other.port_),
      warm_(other.warm_),
      closed_(other.closed_),
      released_(other.released_),
      replayed_(other.replayed_),
      replaying_(other.replaying_),
      replay_done_(std::move(other.replay_done_)) {}

PooledStream::~PooledStream() {
    // Dropped without close(): end the stream in the background and hand the session back
    // (unless linger() already did).
    if (stream_ && pool_ && !closed_) {
        close_in_background(!released_);
    } else if (stream_ && &running_on(home_) != reactor_) {
        // A closed stream's state (its buffer, its signals) belongs to its session's reactor.
        reactor_->post([last = std::move(stream_)]() mutable { last.reset(); });
    }
}

bool PooledStream::on_pool_reactor() const { return &running_on(home_) == home_; }

void PooledStream::close_in_background(bool hand_back) {
    if (on_pool_reactor()) {
        SessionPool* pool = hand_back && !pool_->stopping_ ? pool_ : nullptr;
        pool_->scope_.spawn(
            close_detached(pool, pool_->reactor_, std::move(entry_), std::move(stream_)));
        return;
    }
    // The pool is reached on its own reactor. Should it be gone by then, the stream is still
    // released on its session's reactor, where its FIN is sent.
    home_->post([pool = pool_, alive = pool_alive_, entry = std::move(entry_),
                 stream = std::move(stream_), hand_back]() mutable {
        if (!alive.expired()) {
            SessionPool* back = hand_back && !pool->stopping_ ? pool : nullptr;
            pool->scope_.spawn(
                close_detached(back, pool->reactor_, std::move(entry), std::move(stream)));
            return;
        }
        io::Reactor* on = entry->reactor;
        on->post([last = std::move(stream)]() mutable { last.reset(); });
    });
}

void PooledStream::end_on_pool(bool healthy) {
    if (on_pool_reactor()) {
        pool_->stream_ended(entry_, healthy);
        return;
    }
    home_->post([pool = pool_, alive = pool_alive_, entry = entry_, healthy] {
        if (!alive.expired()) pool->stream_ended(entry, healthy);
    });
}

io::Task<void> PooledStream::close_detached(SessionPool* pool, io::Reactor* pool_reactor,
                                            std::shared_ptr<PooledSession> entry,
                                            std::shared_ptr<session::ClientStream> stream) {
    io::Reactor& home = running_on(pool_reactor);
    co_await io::resume_on(*entry->reactor);
    auto closed = co_await stream->close();
    stream.reset();  // on the session's reactor, which owns it
    co_await io::resume_on(home);
    if (pool) pool->stream_ended(entry, closed.ok());
}

io::Task<void> PooledStream::wait_for_replay() {
    // Every operation starts here: once a replay has taken its snapshot of the kept bytes, a
    // write must go to the stream it moves to, not add bytes to the snapshot's old stream.
    while (replaying_) (void)co_await replay_done_->wait(io::Duration::zero());
}

// The awaits stand in statements of their own, outside conditions (GCC 12 has miscompiled
// co_await in the operands of && and ||).
//
// Each operation runs on the stream's reactor, hopping there and back when called from another
// (io/hop.hpp; a no-op when the caller is there already).
io::Task<Result<std::size_t>> PooledStream::read(std::span<std::byte> buffer,
                                                 io::Duration timeout) {
    io::Reactor& caller = running_on(home_);
    co_await io::resume_on(*reactor_);
    std::optional<Result<std::size_t>> result;
    while (!result) {
        co_await wait_for_replay();
        if (!stream_ || closed_) {
            result = make_error(errc::closed, "stream is closed");
            break;
        }
        auto stream = stream_;
        auto got = co_await stream->read(buffer, timeout);
        if (got) {
            result = std::move(got);
            break;
        }
        const bool moved = co_await replay_after(got.error(), stream, timeout);
        if (!moved) result = std::move(got);
    }
    co_await io::resume_on(caller);
    co_return std::move(*result);
}

io::Task<Result<void>> PooledStream::write(std::span<const std::byte> data, io::Duration timeout) {
    // One frame for the hop and the loop: a write is on every stream's hot path.
    io::Reactor& caller = running_on(home_);
    co_await io::resume_on(*reactor_);
    Result<void> result{};
    while (!data.empty()) {
        co_await wait_for_replay();
        if (!stream_ || closed_) {
            result = make_error(errc::closed, "stream is closed");
            break;
        }
        auto stream = stream_;
        // Until the SYNACK, a write keeps its bytes for a replay, up to kReplayLimit; the rest
        // waits for the SYNACK.
        const std::size_t n = stream->writable_before_synack(data.size());
        if (n == 0) {
            auto connected = co_await stream->wait_connected(timeout);
            if (!connected) {
                const bool moved = co_await replay_after(connected.error(), stream, timeout);
                if (!moved) {
                    result = std::move(connected);
                    break;
                }
            }
            continue;
        }
        auto written = co_await stream->write(data.first(n), timeout);
        if (!written) {
            // A replay carries these n bytes too (they were kept before they were sent).
            const bool moved = co_await replay_after(written.error(), stream, timeout);
            if (!moved) {
                result = std::move(written);
                break;
            }
        }
        data = data.subspan(n);
    }
    co_await io::resume_on(caller);
    co_return result;
}

io::Task<Result<void>> PooledStream::wait_connected(io::Duration timeout) {
    io::Reactor& caller = running_on(home_);
    co_await io::resume_on(*reactor_);
    std::optional<Result<void>> result;
    while (!result) {
        co_await wait_for_replay();
        if (!stream_ || closed_) {
            result = make_error(errc::closed, "stream is closed");
            break;
        }
        auto stream = stream_;
        auto connected = co_await stream->wait_connected(timeout);
        if (connected) {
            result = std::move(connected);
            break;
        }
        const bool moved = co_await replay_after(connected.error(), stream, timeout);
        if (!moved) result = std::move(connected);
    }
    co_await io::resume_on(caller);
    co_return std::move(*result);
}

io::Task<bool> PooledStream::replay_after(const Error& error,
                                          std::shared_ptr<session::ClientStream> failed,
                                          io::Duration timeout) {
    if (closed_) co_return false;
    co_await wait_for_replay();
    if (stream_ != failed) co_return stream_ != nullptr && !closed_;  // a concurrent call moved it
    SessionPool* pool = pool_;
    const bool refused =
        failed->ended_before_synack();  // the session is fine; the stream was turned away
    const pool::StreamFailure failure{.warm = warm_,
                                      .refused = refused,
                                      .already_replayed = replayed_,
                                      .released = released_,
                                      .pool_stopping = pool->stopping_.load(),
                                      .replayable = failed->replayable()};
    if (!pool::replay_on_fresh_session(failure)) co_return false;
    replaying_ = true;
    if (!replay_done_) replay_done_ = std::make_unique<session::Broadcast>(*reactor_);
    // The early data and every byte written so far (the failed stream kept them all).
    std::vector<std::uint8_t> replay = failed->replay_bytes();
    auto old_entry = entry_;
    // The pool's part on the pool's reactor; the fresh session lives on this stream's reactor,
    // so the stream does not move between threads under its caller.
    co_await io::resume_on(*home_);
    ++pool->counters_.retried_opens;
    if (refused) {
        // The old stream ends (its FIN is ignored by the server) and its session goes back.
        pool->scope_.spawn(close_detached(pool, home_, old_entry, failed));
        log::debug(
            "[AnyTLS] Session #{} of {} ended a stream before its SYNACK ({}); replaying it on a "
            "fresh session",
            old_entry->seq, pool->proxy_name_, error.text());
    } else {
        pool->note_early_death(*old_entry);
        pool->close_entry(old_entry, &PoolStats::closed_error);
        log::debug(
            "[AnyTLS] Reused session #{} of {} failed before the SYNACK ({}); replaying the stream "
            "on a fresh "
            "session",
            old_entry->seq, pool->proxy_name_, error.text());
    }
    std::shared_ptr<PooledSession> entry;
    auto created = co_await pool->create_session(pool->reserve_entry(reactor_), false);
    if (created) {
        entry = std::move(created).value();
        entry->state = pool::PoolSessionState::busy;
    }
    const bool assume_v2 = pool->server_v2_;
    co_await io::resume_on(*reactor_);
    bool moved = false;
    std::shared_ptr<session::ClientStream> fresh;
    if (entry) {
        auto opened = co_await entry->session->open_stream(host_, port_, timeout, std::move(replay),
                                                           io::Duration::zero(), assume_v2);
        if (opened) fresh = std::make_shared<session::ClientStream>(std::move(opened).value());
        if (fresh && !closed_) {
            stream_ = std::move(fresh);
            entry_ = entry;
            moved = true;
        }
    }
    if (entry && !moved) {
        co_await io::resume_on(*home_);
        if (fresh) {
            // Closed meanwhile: the fresh stream ends at once and its session goes back.
            pool->scope_.spawn(close_detached(pool, home_, entry, std::move(fresh)));
        } else {
            pool->close_entry(entry, &PoolStats::closed_error);
        }
        co_await io::resume_on(*reactor_);
    }
    // The refusing session went back to the pool above: if the stream could not move, it has
    // no session left to hand back when it closes.
    if (refused && !moved) released_ = true;
    replayed_ = true;
    replaying_ = false;
    replay_done_->notify_all();
    co_return moved;
}

io::Task<Result<void>> PooledStream::close() {
    io::Reactor& caller = running_on(home_);
    co_await io::resume_on(*reactor_);
    auto closed = co_await close_here();
    co_await io::resume_on(caller);
    co_return closed;
}

io::Task<Result<void>> PooledStream::close_here() {
    if (!stream_ || closed_) co_return Result<void>{};
    // A replay in flight decides which session this stream ends on (and hands the old one
    // back itself): let it finish first.
    co_await wait_for_replay();
    if (!stream_ || closed_) co_return Result<void>{};
    // The ClientStream stays in place: a read or write still suspended on another coroutine
    // refers to it, and wakes up to a closed stream rather than a destroyed one.
    closed_ = true;
    auto stream = stream_;
    auto closed = co_await stream->close();
    if (!released_) {
        // Handed back before close() returns, so that the caller's next open finds the
        // session idle, whichever reactor the pool is on.
        co_await io::resume_on(*home_);
        pool_->stream_ended(entry_, closed.ok());
        co_await io::resume_on(*reactor_);
    }
    co_return closed;
}

void PooledStream::abort() {
    if (!stream_ || closed_) return;
    closed_ = true;
    // A write may be parked inside the TLS layer with half a frame sent: the session cannot
    // carry another stream, so it closes, which wakes every wait on it at once.
    if (&running_on(home_) == reactor_) {
        if (auto* session = stream_->session()) session->close();
    } else if (entry_ && entry_->session) {
        reactor_->post([session = entry_->session] { session->close(); });
    }
    if (!released_ && !replaying_) end_on_pool(false);
}

bool PooledStream::linger() {
    // During a replay the session this stream will end on is not known yet. The decision is
    // the pool's, so it is taken on the pool's reactor: called elsewhere, the session stays
    // with the draining stream.
    if (replaying_) return false;
    if (!on_pool_reactor()) return false;
    if (!stream_ || closed_ || released_ || !pool_->would_return_to_idle(*entry_)) return false;
    // Each draining stream is still open at the server, which caps streams per session (256 in
    // ours): past kMaxLingeringStreams the session stays with this stream instead.
    if (stream_->lingering_on_session() >= kMaxLingeringStreams) return false;
    if (reactor_ == home_) {
        stream_->linger();
    } else {
        // Posted before anything the pool sends the session next (an open hops there after
        // this), so the session is idle on its reactor by the time it carries another stream.
        reactor_->post([stream = stream_] { stream->linger(); });
    }
    released_ = true;
    pool_->stream_ended(entry_, true);
    return true;
}

// --- SessionPool --------------------------------------------------------------------------

SessionPool::SessionPool(io::Reactor& reactor, std::string proxy_name,
                         session::ClientConfig client_config, config::PoolSettings settings,
                         std::shared_ptr<session::PaddingState> padding,
                         std::atomic<std::uint64_t>* sequence, io::Clock* clock,
                         std::uint64_t random_seed, std::vector<io::Reactor*> session_reactors)
    : reactor_(&reactor),
      proxy_name_(std::move(proxy_name)),
      client_config_(std::move(client_config)),
      session_reactors_(std::move(session_reactors)),
      settings_(std::move(settings)),
      padding_(std::move(padding)),
      sequence_(sequence),
      clock_(clock ? clock : &reactor.clock()),
      random_(random_seed),
      scope_(reactor),
      wake_(reactor) {
    // One TLS context and one password hash per outbound and reactor, shared by its sessions.
    if (session_reactors_.empty()) session_reactors_.push_back(reactor_);
    for (io::Reactor* on : session_reactors_) {
        session::ClientConfig config = client_config_;
        if (on != reactor_) config.tls_context = nullptr;
        (void)session::prepare_client_config(config);
        if (on == reactor_) client_config_ = config;
        reactor_configs_.push_back(std::move(config));
    }
}

SessionPool::~SessionPool() {
    alive_.reset();
    for (auto& e : sessions_) {
        e->in_pool = false;
        if (e->session) close_session(*e);
    }
}

void SessionPool::close_session(const PooledSession& entry) {
    if (&running_on(reactor_) == entry.reactor) {
        entry.session->close();
        return;
    }
    entry.reactor->post([session = entry.session] { session->close(); });
}

io::Reactor* SessionPool::least_used_reactor() const {
    // The reactor with the fewest of this pool's sessions (creating ones count), the first of
    // them on a tie: sessions spread evenly, and one reactor means no choice.
    io::Reactor* best = session_reactors_.front();
    std::size_t best_count = SIZE_MAX;
    for (io::Reactor* on : session_reactors_) {
        const auto count = static_cast<std::size_t>(std::count_if(
            sessions_.begin(), sessions_.end(), [on](const auto& e) { return e->reactor == on; }));
        if (count < best_count) {
            best = on;
            best_count = count;
        }
    }
    return best;
}

std::string SessionPool::server_address() const {
    return format_host_port(client_config_.server_host, client_config_.server_port);
}

void SessionPool::start() {
    if (started_) return;
    started_ = true;
    scope_.spawn(maintenance_loop(this));
}

io::Task<void> SessionPool::maintenance_loop(SessionPool* self) {
    // The first cycle runs at once: a pool with ensure-idle-session starts warming when it
    // starts, not one check interval later (docs/DESIGN.md, "The cleanup cycle").
    self->run_cycle();
    io::TimePoint next_cycle = self->reactor_->now() + self->settings_.idle_session_check_interval;
    while (!self->stopping_) {
        // Heartbeats may be due more often than cycles: wake for whichever comes first.
        // Pacing is real time (the reactor clock); decisions read the pool clock.
        const io::Duration sleep = pool::maintenance_sleep(next_cycle - self->reactor_->now(),
                                                           self->settings_.heartbeat_interval);
        int rc = co_await io::sleep_for(*self->reactor_, sleep, &self->wake_);
        if (self->stopping_) break;
        if (rc == -ECANCELED) {
            // New settings: run a cycle with them now, then sleep the new interval.
            self->wake_.reset();
            next_cycle = self->reactor_->now();
        }
        if (self->reactor_->now() >= next_cycle) {
            self->run_cycle();
            next_cycle = self->reactor_->now() + self->settings_.idle_session_check_interval;
        } else {
            self->run_heartbeats(self->clock_->now());
        }
    }
}

void SessionPool::set_settings(const config::PoolSettings& settings) {
    settings_ = settings;
    wake_.cancel();
}

io::Task<void> SessionPool::shutdown() {
    stopping_ = true;
    wake_.cancel();
    auto sessions = sessions_;
    for (auto& e : sessions) {
        e->in_pool = false;
        if (e->session) close_session(*e);
    }
    sessions_.clear();
    // Creations (handshakes, name lookups), heartbeats and opens waiting for a session end at
    // once; the pool may be destroyed when the join resumes (docs/DESIGN.md, "Shutdown").
    scope_.cancel();
    co_await scope_.join();
}

std::shared_ptr<PooledSession> SessionPool::take_newest_idle() {
    prune_dead();
    auto newest =
        pool::newest_idle(sessions_, [](const auto& e) -> const PooledSession& { return *e; });
    if (newest == sessions_.end()) return nullptr;
    (*newest)->state = pool::PoolSessionState::busy;
    return *newest;
}

void SessionPool::forget(const std::shared_ptr<PooledSession>& entry) {
    entry->in_pool = false;
    sessions_.erase(std::remove(sessions_.begin(), sessions_.end(), entry), sessions_.end());
}

void SessionPool::close_entry(const std::shared_ptr<PooledSession>& entry,
                              std::uint64_t PoolStats::*counter) {
    if (!entry->in_pool) return;
    if (entry->session) close_session(*entry);
    counters_.*counter += 1;
    forget(entry);
}

void SessionPool::prune_dead() {
    auto sessions = sessions_;
    for (auto& e : sessions) {
        if (e->state == pool::PoolSessionState::idle && e->session && e->session->closed()) {
            log::debug("[AnyTLS] Session #{} of {} closed while idle: {}", e->seq, proxy_name_,
                       e->session->close_reason() ? e->session->close_reason()->text() : "closed");
            note_early_death(*e);
            close_entry(e, &PoolStats::closed_error);
        }
    }
}

void SessionPool::note_early_death(const PooledSession& entry) {
    // A server that drops fresh sessions must not make us redial in a tight loop
    // (pool/creation_backoff.hpp).
    (void)backoff_.record_session_death(entry.created_at, clock_->now(), settings_);
}

void SessionPool::note_creation_failure(const Error& error) {
    ++counters_.creation_failures;
    backoff_.record_failure(clock_->now(), settings_);
    log::warn("{}", pool::creation_failure_line(proxy_name_, backoff_.consecutive_failures(),
                                                error.text()));
}

std::shared_ptr<PooledSession> SessionPool::reserve_entry(io::Reactor* on) {
    // The entry exists (as *creating*) from the moment the creation is decided, so the next
    // cycle counts it even before its coroutine has run (docs/DESIGN.md, "The cleanup cycle":
    // in-flight creations count; the pool never overshoots).
    auto entry = std::make_shared<PooledSession>();
    entry->seq = sequence_->fetch_add(1, std::memory_order_relaxed) + 1;
    entry->state = pool::PoolSessionState::creating;
    entry->reactor = on ? on : least_used_reactor();
    sessions_.push_back(entry);
    return entry;
}

io::Task<Result<std::shared_ptr<PooledSession>>> SessionPool::create_session(
    std::shared_ptr<PooledSession> entry, bool proactive) {
    io::Reactor& on = *entry->reactor;
    const auto lane = static_cast<std::size_t>(
        std::find(session_reactors_.begin(), session_reactors_.end(), &on) -
        session_reactors_.begin());
    session::ClientConfig config = reactor_configs_.at(lane);
    if (!settings_.client_name.empty()) config.client_name = settings_.client_name;
    config.tcp_keepalive = settings_.tcp_keepalive;
    std::optional<Result<std::shared_ptr<session::ClientSession>>> made;
    {
        // The handshake runs on the session's reactor; the pool's shutdown still ends it.
        io::CancellationRelay cancel(&scope_.cancellation(), on);
        co_await io::resume_on(on);
        made = co_await session::open_session(on, std::move(config), padding_, entry->seq,
                                              cancel.source());
        if (*made && &on != reactor_) *made = released_on(on, std::move(made->value()));
        co_await io::resume_on(*reactor_);
    }
    auto opened = std::move(*made);
    if (!opened) {
        forget(entry);
        // A creation that the pool's shutdown cancelled did not fail: nothing to count or log.
        if (!stopping_ && !scope_.cancelled()) note_creation_failure(opened.error());
        co_return std::move(opened).error();
    }
    if (stopping_ || !entry->in_pool) {
        entry->session = std::move(opened).value();
        close_session(*entry);
        forget(entry);
        co_return make_error(-ECANCELED, "the pool is shutting down");
    }
    io::TimePoint now = clock_->now();
    entry->session = std::move(opened).value();
    entry->created_at = now;
    entry->idle_since = now;
    entry->last_heartbeat = now;
    entry->lifetime = pool::draw_lifetime(settings_, random_);
    entry->state = pool::PoolSessionState::idle;
    ++counters_.created_total;
    backoff_.record_success();
    if (proactive) log::debug("{}", pool::created_proactive_session_line(entry->seq));
    co_return entry;
}

io::Task<void> SessionPool::proactive_create(SessionPool* self,
                                             std::shared_ptr<PooledSession> entry) {
    (void)co_await self->create_session(std::move(entry), true);
}

io::Task<Result<PooledStream>> SessionPool::open_stream(std::string host, std::uint16_t port,
                                                        io::Duration timeout, OpenOptions options) {
    if (stopping_) co_return make_error(errc::closed, "the pool is shut down");
    io::Deadline deadline =
        timeout > io::Duration::zero() ? io::Deadline::after(timeout) : io::Deadline::never();
    const io::TimePoint started = clock_->now();
    bool retried = false;
    for (;;) {
        std::shared_ptr<PooledSession> entry = retried ? nullptr : take_newest_idle();
        const bool warm = entry != nullptr;
        io::Duration hedge = io::Duration::zero();
        if (!entry) {
            auto created = co_await join_creation(deadline, options.cancel);
            if (!created) co_return std::move(created).error();
            entry = std::move(created).value();
            entry->state = pool::PoolSessionState::busy;
        } else if (clock_->now() - entry->idle_since >= kProbeIdleAfter) {
            hedge = hedge_timeout(entry->session->rtt());
        }
        // A server that spoke v2 on any session of this pool speaks it on this one, even before
        // this session's first stream has heard it say so.
        server_v2_ = server_v2_ || entry->session->peer_version() >= 2;
        const bool assume_v2 = server_v2_;
        // On the session's reactor: the SYN, and the watch of its outcome.
        std::optional<Result<session::ClientStream>> on_session;
        co_await io::resume_on(*entry->reactor);
        on_session.emplace(co_await entry->session->open_stream(
            host, port, deadline.remaining(), options.early_data, hedge, assume_v2));
        if (*on_session) watch_open_latency(on_session->value(), started);
        co_await io::resume_on(*reactor_);
        auto stream = std::move(*on_session);
        if (stream) {
            ++counters_.streams_opened;
            ++(warm ? counters_.warm_opens : counters_.cold_opens);
            PooledStream pooled(this, entry, std::move(stream).value(), std::move(host), port);
            pooled.set_warm(warm);
            if (options.wait_connected) {
                auto connected = co_await pooled.wait_connected(deadline.remaining());
                if (!connected) {
                    // A refused target leaves the session fine: close() hands it back.
                    (void)co_await pooled.close();
                    co_return std::move(connected).error();
                }
            }
            co_return pooled;
        }
        // The session failed while the SYN was being written: it is not used again.
        Error error = std::move(stream).error();
        note_early_death(*entry);
        close_entry(entry, &PoolStats::closed_error);
        // Transparent retry on a fresh session (pool/open_retry.hpp).
        const pool::SynFailure failure{.warm = warm,
                                       .already_retried = retried,
                                       .pool_stopping = stopping_,
                                       .deadline_expired = deadline.expired()};
        if (pool::retry_on_fresh_session(failure)) {
            retried = true;
            ++counters_.retried_opens;
            log::debug("[AnyTLS] Reused session #{} of {} failed ({}); retrying on a fresh session",
                       entry->seq, proxy_name_, error.text());
            continue;
        }
        co_return error;
    }
}

// A creation that an open waits for. It runs in the pool's scope, not in the open, so that
// an open that gives up (its deadline, its caller's cancellation) leaves it to finish: the
// session then goes to the pool as idle, ready for the next open (docs/DESIGN.md, "Opening a
// stream").
struct SessionPool::Creation {
    explicit Creation(io::Reactor& reactor) : done_event(reactor) {}
    bool done = false;
    bool abandoned = false;  // the open stopped waiting: the session stays idle
    std::optional<Result<std::shared_ptr<PooledSession>>> result;
    session::Broadcast done_event;
};

io::Task<void> SessionPool::run_creation(SessionPool* self, std::shared_ptr<PooledSession> entry,
                                         std::shared_ptr<Creation> creation) {
    auto created = co_await self->create_session(std::move(entry), false);
    // The session is the waiting open's from here on: it stays busy until that open resumes
    // (it is only scheduled), so no other open can take it as idle meanwhile. An abandoned
    // creation leaves it idle for the next open.
    if (created && !creation->abandoned) created.value()->state = pool::PoolSessionState::busy;
    creation->done = true;
    creation->result = std::move(created);
    creation->done_event.notify_all();
}

io::Task<Result<std::shared_ptr<PooledSession>>> SessionPool::join_creation(
    io::Deadline deadline, io::CancellationSource* cancel) {
    auto creation = std::make_shared<Creation>(*reactor_);
    scope_.spawn(run_creation(this, reserve_entry(), creation));
    // The wait below ends on the caller's cancellation; the pool's shutdown wakes it too.
    io::CancelHook on_shutdown;
    on_shutdown.fn = [](io::CancelHook& hook) {
        static_cast<session::Broadcast*>(hook.context)->notify_all();
    };
    on_shutdown.context = &creation->done_event;
    scope_.cancellation().add_hook(on_shutdown);
    struct Unhook {
        io::CancellationSource& source;
        io::CancelHook& hook;
        ~Unhook() { source.remove_hook(hook); }
    } unhook{scope_.cancellation(), on_shutdown};
    while (!creation->done) {
        if (scope_.cancelled() || stopping_)
            co_return make_error(errc::closed, "the pool is shut down");
        if (cancel && cancel->cancelled()) {
            creation->abandoned = true;
            co_return make_error(-ECANCELED, "the open was cancelled");
        }
        if (deadline.expired()) {
            creation->abandoned = true;
            co_return make_error(
                -ETIMEDOUT, "no session to proxy \"" + proxy_name_ + "\" (" + server_address() +
                                ") within the open's timeout: the TCP connect, TLS handshake "
                                "and authentication did not finish in time");
        }
        // Each wake-up re-checks: the creation ended, the deadline passed, or a cancellation.
        (void)co_await creation->done_event.wait(deadline.remaining(), cancel);
    }
    co_return std::move(*creation->result);
}

void SessionPool::watch_open_latency(session::ClientStream& stream, io::TimePoint started) {
    std::weak_ptr<bool> alive = alive_;
    // Every open is timed to its outcome (SYNACK, refusal or failure), so the histogram's
    // count stays the number of streams opened. The outcome is seen on the stream's reactor;
    // the histogram is kept on the pool's.
    stream.set_on_resolved([this, alive, started](const session::ClientStreamState&) {
        auto record = [this, alive, started] {
            if (alive.expired()) return;
            record_open_latency(clock_->now() - started);
        };
        if (&running_on(reactor_) == reactor_) {
            record();
        } else {
            reactor_->post(record);
        }
    });
}

void SessionPool::stream_ended(const std::shared_ptr<PooledSession>& entry, bool healthy) {
    if (entry->session && entry->session->peer_version() >= 2) server_v2_ = true;
    if (!entry->in_pool) return;
    if (!healthy || !entry->session || entry->session->closed()) {
        note_early_death(*entry);
        close_entry(entry, &PoolStats::closed_error);
        return;
    }
    io::TimePoint now = clock_->now();
    auto decision = end_decision(*entry, now);
    switch (decision.action) {
        case pool::StreamEndAction::return_to_idle:
            entry->state = pool::PoolSessionState::idle;
            entry->idle_since = now;
            entry->last_heartbeat = now;
            break;
        case pool::StreamEndAction::close_aged:
            log::debug("[AnyTLS] Session #{} reached its lifetime; closing it as its stream ended",
                       entry->seq);
            close_entry(entry, &PoolStats::closed_age);
            break;
        case pool::StreamEndAction::close_no_reuse:
            close_entry(entry, &PoolStats::closed_no_reuse);
            break;
    }
}

pool::StreamEndDecision SessionPool::end_decision(const PooledSession& entry,
                                                  io::TimePoint now) const {
    int idle_count = 0;
    for (auto& e : sessions_) idle_count += e->state == pool::PoolSessionState::idle;
    return pool::on_stream_end(info_of(entry), settings_, idle_count, now);
}

bool SessionPool::would_return_to_idle(const PooledSession& entry) const {
    if (!entry.in_pool || !entry.session || entry.session->closed()) return false;
    return end_decision(entry, clock_->now()).action == pool::StreamEndAction::return_to_idle;
}

std::vector<pool::SessionInfo> SessionPool::snapshot() const {
    std::vector<pool::SessionInfo> out;
    out.reserve(sessions_.size());
    for (auto& e : sessions_) out.push_back(info_of(*e));
    return out;
}

std::size_t SessionPool::creating() const {
    return static_cast<std::size_t>(
        std::count_if(sessions_.begin(), sessions_.end(),
                      [](const auto& e) { return e->state == pool::PoolSessionState::creating; }));
}

void SessionPool::record_open_latency(io::Duration latency) {
    const double seconds =
        std::chrono::duration<double>(std::max(latency, io::Duration::zero())).count();
    std::size_t slot = 0;
    while (slot < kOpenLatencyBounds.size() && seconds > kOpenLatencyBounds[slot]) ++slot;
    ++counters_.open_latency_buckets[slot];
    counters_.open_latency_seconds_sum += seconds;
}

PoolStats SessionPool::stats() const {
    PoolStats s = counters_;
    for (auto& e : sessions_) {
        switch (e->state) {
            case pool::PoolSessionState::idle:
                ++s.idle;
                break;
            case pool::PoolSessionState::busy:
                ++s.busy;
                break;
            case pool::PoolSessionState::creating:
                ++s.creating;
                break;
        }
    }
    return s;
}

std::size_t SessionPool::reset() {
    std::size_t closed = 0;
    auto sessions = sessions_;
    for (auto& e : sessions) {
        if (e->state == pool::PoolSessionState::idle) {
            close_entry(e, &PoolStats::closed_reset);
            ++closed;
        }
    }
    log::debug("[AnyTLS] Pool reset for {}: closed {} idle sessions", proxy_name_, closed);
    // Rebuild the pool's target now, not a check interval later (still under the create rate).
    run_cycle();
    return closed;
}

void SessionPool::run_cycle() {
    if (stopping_) return;
    prune_dead();
    io::TimePoint now = clock_->now();
    auto snap = snapshot();
    pool::Plan plan = pool::plan_cleanup(snap, settings_, now);
    for (const auto& line : plan.log_lines) log::debug("{}", line);
    for (const auto& c : plan.close) {
        for (auto& e : sessions_) {
            if (e->seq == c.seq) {
                close_entry(e, c.reason == pool::CloseReason::idle ? &PoolStats::closed_idle
                                                                   : &PoolStats::closed_age);
                break;
            }
        }
    }
    const pool::GatedCreations gated = backoff_.gate(plan.create(), now, proxy_name_);
    if (!gated.log_line.empty()) log::debug("{}", gated.log_line);
    for (int i = 0; i < gated.create; ++i) {
        scope_.spawn(proactive_create(this, reserve_entry()));
    }
    run_heartbeats(now);
}

void SessionPool::run_heartbeats(io::TimePoint now) {
    if (stopping_ || settings_.heartbeat_interval <= io::Duration::zero()) return;
    // Heartbeat idle sessions of v2 peers that have been quiet for a whole interval.
    for (auto& e : sessions_) {
        if (e->state != pool::PoolSessionState::idle || !e->session || e->heartbeat_in_flight)
            continue;
        if (e->session->peer_version() < 2) continue;
        if (!pool::heartbeat_due(e->idle_since, e->last_heartbeat, now,
                                 settings_.heartbeat_interval))
            continue;
        e->heartbeat_in_flight = true;
        scope_.spawn(heartbeat(this, e));
    }
}

io::Task<void> SessionPool::heartbeat(SessionPool* self, std::shared_ptr<PooledSession> entry) {
    const io::Duration timeout = self->settings_.heartbeat_timeout;
    std::optional<Result<void>> answer;
    co_await io::resume_on(*entry->reactor);
    answer = co_await entry->session->ping(timeout);
    co_await io::resume_on(*self->reactor_);
    auto pong = std::move(*answer);
    entry->heartbeat_in_flight = false;
    if (!entry->in_pool) co_return;
    if (pong) {
        entry->last_heartbeat = self->clock_->now();
        co_return;
    }
    if (entry->state != pool::PoolSessionState::idle) co_return;  // its stream will see the failure
    log::debug("[AnyTLS] Heartbeat failed on session #{} of {}: {}; closing it", entry->seq,
               self->proxy_name_, pong.error().text());
    self->close_entry(entry, &PoolStats::closed_heartbeat);
}

}  // namespace anytls::client
