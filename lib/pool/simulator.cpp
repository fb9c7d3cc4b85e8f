// The virtual-clock pool simulator (see simulator.hpp).
#include "pool/simulator.hpp"

#include <algorithm>
#include <limits>

#include "pool/heartbeat_schedule.hpp"
#include "pool/lifetime.hpp"
#include "pool/newest_idle.hpp"
#include "pool/plan.hpp"
#include "pool/policy.hpp"

namespace anytls::pool {

namespace {
constexpr TimePoint kNever = TimePoint::max();

Duration seconds_to_duration(double seconds) {
    return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
}
}  // namespace

std::uint64_t expected_work_steps(const SimulatorOptions& options, Duration duration) {
    const Duration interval = options.settings.idle_session_check_interval;
    const double cycles = interval.count() > 0 ? static_cast<double>(duration / interval) + 1 : 1;
    const TrafficOptions& traffic = options.traffic;
    double arrivals = 0, streams = 0;
    if (traffic.model == TrafficModel::steady && traffic.streams_per_second > 0) {
        streams = traffic.streams_per_second * std::chrono::duration<double>(duration).count();
        arrivals = streams;
    } else if (traffic.model == TrafficModel::bursty && traffic.burst_size > 0 &&
               traffic.burst_period.count() > 0) {
        arrivals = static_cast<double>(duration / traffic.burst_period);
        streams = arrivals * traffic.burst_size;
    }
    // In double: an absurd --rate times --duration must saturate, not wrap.
    const double steps = cycles + arrivals + streams;
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    return steps >= static_cast<double>(kMax) ? kMax : static_cast<std::uint64_t>(steps);
}

PoolSimulator::PoolSimulator(SimulatorOptions options)
    : options_(std::move(options)), engine_(options_.seed) {
    now_ = start_;
    // The first cycle runs when the pool starts, as SessionPool's does (a pool with a target
    // warms at once), then every check interval.
    next_cycle_ = start_;
    next_steady_arrival_ = kNever;
    next_burst_ = kNever;
    const TrafficOptions& traffic = options_.traffic;
    if (traffic.model == TrafficModel::steady && traffic.streams_per_second > 0) {
        std::exponential_distribution<double> gap(traffic.streams_per_second);
        next_steady_arrival_ = start_ + seconds_to_duration(gap(engine_));
    } else if (traffic.model == TrafficModel::bursty && traffic.burst_size > 0 &&
               traffic.burst_period.count() > 0) {
        next_burst_ = start_ + traffic.burst_period;
    }
    next_heartbeat_wake_ = kNever;
    for (const Outage& outage : options_.outages)
        if (outage.length.count() > 0)
            schedule(start_ + outage.start, Event::Kind::outage_start, 0);
}

bool PoolSimulator::server_down(TimePoint at) const {
    for (const Outage& outage : options_.outages)
        if (at >= start_ + outage.start && at < start_ + outage.start + outage.length) return true;
    return false;
}

CycleRecord PoolSimulator::step() {
    advance_to(next_cycle_);
    now_ = next_cycle_;
    next_cycle_ += options_.settings.idle_session_check_interval;

    const std::vector<SessionInfo> sessions = policy_input();
    work_steps_ += 1 + sessions.size();
    const Plan plan = plan_cleanup(sessions, options_.settings, now_);
    for (const SessionToClose& victim : plan.close)
        close(victim.seq, victim.reason == CloseReason::idle ? ClosedSessionRecord::Why::idle
                                                             : ClosedSessionRecord::Why::age);
    // As SessionPool::run_cycle: the plan's lines, then the backoff's when it holds creations back.
    const GatedCreations gated = backoff_.gate(plan.create(), now_, options_.proxy_name);
    for (int i = 0; i < gated.create; ++i) start_creation(false, Duration{0});
    work_steps_ += static_cast<std::uint64_t>(gated.create);
    run_heartbeats();
    schedule_heartbeat_wake();

    CycleRecord record = std::move(pending_);
    pending_ = CycleRecord{};
    record.log_lines.insert(record.log_lines.end(), plan.log_lines.begin(), plan.log_lines.end());
    if (!gated.log_line.empty()) record.log_lines.push_back(gated.log_line);
    record.consecutive_failures = backoff_.consecutive_failures();
    record.backoff_s =
        std::chrono::duration<double>(
            backoff_delay(backoff_.consecutive_failures(), options_.settings.creation_backoff_max))
            .count();
    record.backoff_left_s = std::chrono::duration<double>(backoff_.remaining(now_)).count();
    record.server_down = server_down(now_);
    record.t_s = std::chrono::duration<double>(now_ - start_).count();
    record.idle = static_cast<int>(idle_.size());
    record.busy = busy_;
    record.creating = static_cast<int>(creating_.size());
    record.closed_idle = plan.idle.closing;
    record.closed_age = plan.age.closing;
    record.protected_idle = plan.idle.kept_protected;
    record.protected_age = plan.age.kept_protected;
    return record;
}

std::vector<CycleRecord> PoolSimulator::run(int cycles) {
    std::vector<CycleRecord> records;
    records.reserve(static_cast<std::size_t>(std::max(cycles, 0)));
    for (int i = 0; i < cycles; ++i) records.push_back(step());
    return records;
}

void PoolSimulator::kill_all() {
    std::vector<std::uint64_t> all;
    for (const auto& [seq, session] : sessions_) all.push_back(seq);
    std::sort(all.begin(), all.end());  // closed in seq order, as a repeatable record
    for (std::uint64_t seq : all) close(seq, ClosedSessionRecord::Why::killed);
    // Events of the dead sessions find nothing when they fire and are ignored.
}

std::vector<SessionInfo> PoolSimulator::policy_input() const {
    std::vector<SessionInfo> out;
    out.reserve(idle_.size() + creating_.size());
    for (std::uint64_t seq : idle_) out.push_back(sessions_.at(seq).info);
    for (std::uint64_t seq : creating_) out.push_back(sessions_.at(seq).info);
    return out;
}

std::vector<SessionInfo> PoolSimulator::snapshot() const {
    std::vector<SessionInfo> out;
    out.reserve(sessions_.size());
    for (const auto& [seq, session] : sessions_) out.push_back(session.info);
    std::sort(out.begin(), out.end(),
              [](const SessionInfo& a, const SessionInfo& b) { return a.seq < b.seq; });
    return out;
}

void PoolSimulator::advance_to(TimePoint target) {
    for (;;) {
        const TimePoint event_at = events_.empty() ? kNever : events_.top().at;
        const TimePoint arrival_at = next_arrival();
        const TimePoint next = std::min({event_at, arrival_at, next_heartbeat_wake_});
        if (next == kNever || next > target) break;
        now_ = next;
        ++work_steps_;
        // Events first at equal times: a session finishing its handshake or its stream at
        // the instant a stream arrives is available to it.
        if (event_at == next) {
            const Event event = events_.top();
            events_.pop();
            switch (event.kind) {
                case Event::Kind::creation_done:
                    creation_done(event.seq);
                    break;
                case Event::Kind::stream_end:
                    stream_end(event.seq);
                    break;
                case Event::Kind::outage_start:
                    outage_start();
                    break;
            }
        } else if (next_heartbeat_wake_ == next) {
            run_heartbeats();
            schedule_heartbeat_wake();
        } else {
            arrive();
        }
    }
}

TimePoint PoolSimulator::next_arrival() const {
    return std::min(next_steady_arrival_, next_burst_);
}

void PoolSimulator::arrive() {
    const TrafficOptions& traffic = options_.traffic;
    if (now_ == next_steady_arrival_) {
        open_stream(draw_stream_duration());
        std::exponential_distribution<double> gap(traffic.streams_per_second);
        next_steady_arrival_ = now_ + std::max(Duration{1}, seconds_to_duration(gap(engine_)));
    } else {
        for (int i = 0; i < traffic.burst_size; ++i) open_stream(draw_stream_duration());
        next_burst_ = now_ + traffic.burst_period;
    }
}

void PoolSimulator::open_stream(Duration duration) {
    ++pending_.streams;
    ++work_steps_;
    // Acquire: the newest idle session (docs/DESIGN.md, "The session pool"); none -> create on
    // demand.
    if (idle_.empty()) {
        start_creation(true, duration);
        return;
    }
    const auto newest = newest_idle(idle_, [this](std::uint64_t idle_seq) -> const SessionInfo& {
        return sessions_.at(idle_seq).info;
    });
    const std::uint64_t seq = *newest;
    set_state(seq, sessions_.at(seq), PoolSessionState::busy);
    schedule(now_ + duration, Event::Kind::stream_end, seq);
}

std::uint64_t PoolSimulator::start_creation(bool on_demand, Duration stream_duration) {
    const std::uint64_t seq = next_seq_++;
    SimSession session;
    session.info.seq = seq;
    session.info.state = PoolSessionState::creating;
    session.waiting_stream = on_demand;
    session.waiting_stream_duration = stream_duration;
    sessions_.emplace(seq, session);
    creating_.insert(seq);
    ++pending_.created;
    if (on_demand) ++pending_.created_on_demand;
    schedule(now_ + options_.handshake_delay, Event::Kind::creation_done, seq);
    return seq;
}

void PoolSimulator::creation_done(std::uint64_t seq) {
    auto it = sessions_.find(seq);
    if (it == sessions_.end()) return;  // killed while creating
    SimSession& session = it->second;
    if (server_down(now_)) {
        creation_failed(seq, session);
        return;
    }
    backoff_.record_success();
    session.info.created_at = now_;
    session.last_heartbeat = now_;
    session.info.lifetime = draw_lifetime(options_.settings, engine_);
    if (session.waiting_stream) {
        session.waiting_stream = false;
        set_state(seq, session, PoolSessionState::busy);
        schedule(now_ + session.waiting_stream_duration, Event::Kind::stream_end, seq);
    } else {
        session.info.idle_since = now_;
        set_state(seq, session, PoolSessionState::idle);
    }
}

void PoolSimulator::stream_end(std::uint64_t seq) {
    auto it = sessions_.find(seq);
    if (it == sessions_.end() || it->second.info.state != PoolSessionState::busy) return;
    const StreamEndDecision decision =
        on_stream_end(it->second.info, options_.settings, static_cast<int>(idle_.size()), now_);
    switch (decision.action) {
        case StreamEndAction::return_to_idle:
            it->second.info.idle_since = now_;
            it->second.last_heartbeat = now_;
            set_state(seq, it->second, PoolSessionState::idle);
            break;
        case StreamEndAction::close_aged:
            ++pending_.closed_at_stream_end;
            close(seq, ClosedSessionRecord::Why::age_at_stream_end);
            break;
        case StreamEndAction::close_no_reuse:
            ++pending_.closed_at_stream_end;
            close(seq, ClosedSessionRecord::Why::no_reuse);
            break;
    }
}

void PoolSimulator::creation_failed(std::uint64_t seq, SimSession& session) {
    // As SessionPool::note_creation_failure; a stream that waited for it fails with it.
    backoff_.record_failure(now_, options_.settings);
    ++pending_.creation_failures;
    if (session.waiting_stream) ++pending_.failed_streams;
    pending_.log_lines.push_back(creation_failure_line(options_.proxy_name,
                                                       backoff_.consecutive_failures(),
                                                       "the server is down (simulated outage)"));
    forget_state(seq, session);
    sessions_.erase(seq);
}

void PoolSimulator::outage_start() {
    // Every connection to the server resets. A session that dies this young counts as a
    // failed creation, as SessionPool counts it when it sees the session closed.
    std::vector<std::uint64_t> usable;
    for (const auto& [seq, session] : sessions_)
        if (session.info.state != PoolSessionState::creating) usable.push_back(seq);
    std::sort(usable.begin(), usable.end());  // a repeatable record
    for (std::uint64_t seq : usable) {
        (void)backoff_.record_session_death(sessions_.at(seq).info.created_at, now_,
                                            options_.settings);
        ++pending_.closed_outage;
        close(seq, ClosedSessionRecord::Why::outage);
    }
    work_steps_ += usable.size();
    // Creations in flight fail when they finish (creation_done sees the server down).
}

void PoolSimulator::run_heartbeats() {
    // As SessionPool::run_heartbeats: every idle session quiet for a whole interval is probed.
    // The quietest idle sessions come first in quiet_, so only the due ones are touched.
    const Duration interval = options_.settings.heartbeat_interval;
    if (interval <= Duration::zero()) return;
    while (!quiet_.empty()) {
        const std::uint64_t seq = quiet_.begin()->second;
        SimSession& session = sessions_.at(seq);
        if (!heartbeat_due(session.info.idle_since, session.last_heartbeat, now_, interval)) break;
        ++pending_.heartbeats;
        quiet_.erase(quiet_.begin());
        session.last_heartbeat = now_;  // answered at once: the outage killed every dead session
        quiet_.emplace(now_, seq);
    }
}

void PoolSimulator::schedule_heartbeat_wake() {
    // SessionPool's loop sleeps maintenance_sleep() and runs the heartbeats alone when it
    // wakes before the next cycle.
    const Duration interval = options_.settings.heartbeat_interval;
    const TimePoint wake = now_ + maintenance_sleep(next_cycle_ - now_, interval);
    next_heartbeat_wake_ = interval > Duration::zero() && wake < next_cycle_ ? wake : kNever;
}

void PoolSimulator::close(std::uint64_t seq, ClosedSessionRecord::Why why) {
    auto it = sessions_.find(seq);
    if (it == sessions_.end()) return;
    closed_.push_back({seq, it->second.info.created_at, now_, it->second.info.lifetime, why});
    forget_state(seq, it->second);
    sessions_.erase(it);
}

void PoolSimulator::set_state(std::uint64_t seq, SimSession& session, PoolSessionState state) {
    forget_state(seq, session);
    session.info.state = state;
    switch (state) {
        case PoolSessionState::idle:
            idle_.insert(seq);
            quiet_.emplace(std::max(session.info.idle_since, session.last_heartbeat), seq);
            break;
        case PoolSessionState::creating:
            creating_.insert(seq);
            break;
        case PoolSessionState::busy:
            ++busy_;
            break;
    }
}

void PoolSimulator::forget_state(std::uint64_t seq, const SimSession& session) {
    switch (session.info.state) {
        case PoolSessionState::idle:
            idle_.erase(seq);
            quiet_.erase({std::max(session.info.idle_since, session.last_heartbeat), seq});
            break;
        case PoolSessionState::creating:
            creating_.erase(seq);
            break;
        case PoolSessionState::busy:
            --busy_;
            break;
    }
}

void PoolSimulator::schedule(TimePoint at, Event::Kind kind, std::uint64_t seq) {
    events_.push(Event{at, next_order_++, kind, seq});
}

Duration PoolSimulator::draw_stream_duration() {
    const double mean =
        std::chrono::duration<double>(options_.traffic.mean_stream_duration).count();
    if (mean <= 0) return Duration{0};
    std::exponential_distribution<double> length(1.0 / mean);
    return seconds_to_duration(length(engine_));
}

}  // namespace anytls::pool
