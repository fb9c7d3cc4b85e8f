// The virtual-clock pool simulator (see simulator.hpp).
#include "pool/simulator.hpp"

#include <algorithm>
#include <limits>

#include "pool/lifetime.hpp"
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
    } else if (traffic.model == TrafficModel::bursty && traffic.burst_size > 0 && traffic.burst_period.count() > 0) {
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
    } else if (traffic.model == TrafficModel::bursty && traffic.burst_size > 0 && traffic.burst_period.count() > 0) {
        next_burst_ = start_ + traffic.burst_period;
    }
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
    for (int i = 0; i < plan.create(); ++i) start_creation(false, Duration{0});
    work_steps_ += static_cast<std::uint64_t>(plan.create());

    CycleRecord record = std::move(pending_);
    pending_ = CycleRecord{};
    record.t_s = std::chrono::duration<double>(now_ - start_).count();
    record.idle = static_cast<int>(idle_.size());
    record.busy = busy_;
    record.creating = static_cast<int>(creating_.size());
    record.closed_idle = plan.idle.closing;
    record.closed_age = plan.age.closing;
    record.protected_idle = plan.idle.kept_protected;
    record.protected_age = plan.age.kept_protected;
    record.log_lines = plan.log_lines;
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
    std::sort(out.begin(), out.end(), [](const SessionInfo& a, const SessionInfo& b) { return a.seq < b.seq; });
    return out;
}

void PoolSimulator::advance_to(TimePoint target) {
    for (;;) {
        const TimePoint event_at = events_.empty() ? kNever : events_.top().at;
        const TimePoint arrival_at = next_arrival();
        const TimePoint next = std::min(event_at, arrival_at);
        if (next == kNever || next > target) break;
        now_ = next;
        ++work_steps_;
        // Events first at equal times: a session finishing its handshake or its stream at
        // the instant a stream arrives is available to it.
        if (event_at <= arrival_at) {
            const Event event = events_.top();
            events_.pop();
            if (event.kind == Event::Kind::creation_done) creation_done(event.seq);
            else stream_end(event.seq);
        } else {
            arrive();
        }
    }
}

TimePoint PoolSimulator::next_arrival() const { return std::min(next_steady_arrival_, next_burst_); }

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
    const std::uint64_t seq = *idle_.rbegin();
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
    session.info.created_at = now_;
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
        case PoolSessionState::idle: idle_.insert(seq); break;
        case PoolSessionState::creating: creating_.insert(seq); break;
        case PoolSessionState::busy: ++busy_; break;
    }
}

void PoolSimulator::forget_state(std::uint64_t seq, const SimSession& session) {
    switch (session.info.state) {
        case PoolSessionState::idle: idle_.erase(seq); break;
        case PoolSessionState::creating: creating_.erase(seq); break;
        case PoolSessionState::busy: --busy_; break;
    }
}

void PoolSimulator::schedule(TimePoint at, Event::Kind kind, std::uint64_t seq) {
    events_.push(Event{at, next_order_++, kind, seq});
}

Duration PoolSimulator::draw_stream_duration() {
    const double mean = std::chrono::duration<double>(options_.traffic.mean_stream_duration).count();
    if (mean <= 0) return Duration{0};
    std::exponential_distribution<double> length(1.0 / mean);
    return seconds_to_duration(length(engine_));
}

}  // namespace anytls::pool
