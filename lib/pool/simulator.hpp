// PoolSimulator: the pool policy run against a virtual clock and a traffic model, so hours of
// pool behaviour take milliseconds (docs/DESIGN.md, "Architecture"). `anytls plan` prints its
// records for a configuration; the pool tests use it to check the feature description's promises.
//
// It models what SessionPool does with the policy's decisions, through the same lib/pool code,
// and nothing of the network: a creation takes `handshake_delay` and succeeds unless the server
// is down then (an outage); a stream takes the newest idle session (newest_idle.hpp) or, if
// there is none, creates one on demand and waits for it; when a stream ends, on_stream_end()
// decides whether its session returns to the pool; every check interval plan_cleanup() runs and
// its plan is applied at once, its creations held back while CreationBackoff says so; idle
// sessions are probed on the heartbeat schedule (heartbeat_schedule.hpp), the pool waking
// between cycles for it as SessionPool's loop does. A probe is answered at once: a round trip
// is not modelled. When an outage starts, every session dies (the server's connections reset),
// creations finishing during it fail, and the deaths and failures feed the backoff as in
// SessionPool. Random draws (lifetimes, arrivals, stream durations) come from one engine
// seeded by the options, so a run is repeatable.
//
// Its cost is linear in the simulated time: every event costs O(log n), a stream the idle
// sessions newest_idle() looks through (the same scan SessionPool makes), and a cycle the idle
// and creating sessions it hands the policy. Busy sessions, which pile up by
// the hundred thousand under long streams, are touched only by their own events: plan_cleanup
// ignores them (policy.hpp), so leaving them out of its input changes no decision.
#pragma once

#include <cstdint>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/pool_settings.hpp"
#include "pool/creation_backoff.hpp"
#include "pool/session_snapshot.hpp"

namespace anytls::pool {

enum class TrafficModel {
    idle,    // no streams: the pool only rotates and refills itself
    steady,  // Poisson arrivals at streams_per_second
    bursty,  // burst_size streams opened together every burst_period
};

struct TrafficOptions {
    TrafficModel model = TrafficModel::idle;
    double streams_per_second = 0.2;                           // steady
    Duration mean_stream_duration = std::chrono::seconds(10);  // steady and bursty; exponential
    int burst_size = 20;                                       // bursty
    Duration burst_period = std::chrono::minutes(5);           // bursty; first burst one period in
};

// The server is down from `start` (since the simulation's start) for `length`.
struct Outage {
    Duration start{0};
    Duration length{0};
};

struct SimulatorOptions {
    config::PoolSettings settings;
    TrafficOptions traffic;
    Duration handshake_delay = std::chrono::milliseconds(200);  // creation start -> session usable
    std::uint64_t seed = 1;
    std::vector<Outage> outages;
    std::string proxy_name = "proxy";  // names the pool in the log lines, as SessionPool's do
};

// The state right after one cleanup cycle, and what happened since the previous one.
struct CycleRecord {
    double t_s = 0;  // virtual time of the cycle, seconds since the start
    int idle = 0;    // sessions after the plan was applied
    int busy = 0;
    int creating = 0;  // in flight, including the ones this cycle started
    int created = 0;   // creations started since the previous record, this cycle's included
    int created_on_demand = 0;     // of those, started because a stream found no idle session
    int closed_idle = 0;           // this cycle, step 1
    int closed_age = 0;            // this cycle, step 2
    int closed_at_stream_end = 0;  // since the previous record: aged or session-reuse = false
    int protected_idle = 0;        // this cycle, step 1
    int protected_age = 0;         // this cycle, step 2
    int streams = 0;               // streams opened since the previous record
    int creation_failures = 0;     // since the previous record: creations that met a down server
    int failed_streams = 0;        // since the previous record: waited for a creation that failed
    int closed_outage = 0;         // since the previous record: died when the server went down
    int heartbeats = 0;            // since the previous record: probes sent to idle sessions
    int consecutive_failures = 0;  // after this cycle, as CreationBackoff counts them
    double backoff_s = 0;          // after this cycle: the hold-back the failures in a row earn
    double backoff_left_s = 0;     // after this cycle: how long proactive creation still holds back
    bool server_down = false;      // at this cycle's instant
    std::vector<std::string> log_lines;  // the cycle's debug lines (plan.hpp), and any since
};

// Every session that left the pool, for lifetime and rotation checks.
struct ClosedSessionRecord {
    enum class Why { idle, age, age_at_stream_end, no_reuse, killed, outage };
    std::uint64_t seq = 0;
    TimePoint created_at{};
    TimePoint closed_at{};
    Duration lifetime{0};
    Why why = Why::idle;
};

// A lower bound on the work_steps() of simulating `duration` (the cycle at start included):
// one step per cycle, per arrival and per stream the traffic is expected to open. The bound
// lets `anytls plan` refuse a run before starting it; the real count can be several times
// more (handshakes, stream ends, the sessions each cycle examines).
std::uint64_t expected_work_steps(const SimulatorOptions& options, Duration duration);

class PoolSimulator {
public:
    explicit PoolSimulator(SimulatorOptions options);

    // Runs the traffic up to the next cycle (one check interval later), then the cleanup.
    CycleRecord step();
    std::vector<CycleRecord> run(int cycles);

    // Every session dies now, as after a network change; pending creations are lost too.
    void kill_all();

    TimePoint start() const { return start_; }
    TimePoint now() const { return now_; }
    const config::PoolSettings& settings() const { return options_.settings; }
    std::vector<SessionInfo> snapshot() const;  // by seq
    const std::vector<ClosedSessionRecord>& closed() const { return closed_; }
    std::uint64_t sessions_started() const { return next_seq_ - 1; }
    // The work done so far, in steps: one per event handled (a creation finishing, a stream
    // ending), per arrival and per stream it opens, one per cycle and per session the cycle
    // hands the policy, and one per creation the cycle starts. It measures what a run costs
    // without timing it: `anytls plan` bounds it, and tests check that it grows linearly with
    // the simulated time. A heartbeat wake between cycles is one step; its probes are not
    // counted (each is two set operations on an idle session, at most one per idle session
    // per heartbeat-interval, and changes nothing the policy reads).
    std::uint64_t work_steps() const { return work_steps_; }

private:
    struct SimSession {
        SessionInfo info;
        TimePoint last_heartbeat{};
        bool waiting_stream = false;  // created on demand: busy as soon as it is ready
        Duration waiting_stream_duration{0};
    };
    struct Event {
        TimePoint at;
        std::uint64_t order;  // ties keep insertion order, for repeatability
        enum class Kind { creation_done, stream_end, outage_start } kind;
        std::uint64_t seq;
        bool operator>(const Event& other) const {
            return at != other.at ? at > other.at : order > other.order;
        }
    };

    void advance_to(TimePoint target);
    bool server_down(TimePoint at) const;
    void outage_start();
    void creation_failed(std::uint64_t seq, SimSession& session);
    void run_heartbeats();
    void schedule_heartbeat_wake();
    TimePoint next_arrival() const;
    void arrive();
    void open_stream(Duration duration);
    std::uint64_t start_creation(bool on_demand, Duration stream_duration);
    void creation_done(std::uint64_t seq);
    void stream_end(std::uint64_t seq);
    void close(std::uint64_t seq, ClosedSessionRecord::Why why);
    void schedule(TimePoint at, Event::Kind kind, std::uint64_t seq);
    Duration draw_stream_duration();
    // Every state change goes through here, so the per-state indexes below stay exact.
    void set_state(std::uint64_t seq, SimSession& session, PoolSessionState state);
    void forget_state(std::uint64_t seq, const SimSession& session);
    std::vector<SessionInfo> policy_input() const;

    SimulatorOptions options_;
    std::mt19937_64 engine_;
    TimePoint start_{};
    TimePoint now_{};
    TimePoint next_cycle_{};
    TimePoint next_steady_arrival_{};
    TimePoint next_burst_{};
    TimePoint next_heartbeat_wake_{};  // between cycles, as SessionPool's maintenance loop wakes
    CreationBackoff backoff_;
    std::uint64_t next_seq_ = 1;
    std::uint64_t next_order_ = 0;
    std::unordered_map<std::uint64_t, SimSession> sessions_;  // by seq
    std::set<std::uint64_t> idle_;      // seqs of the idle sessions; the newest is the last
    std::set<std::uint64_t> creating_;  // seqs of the sessions in their handshake
    // The idle sessions by when they last went quiet (idle since, or last probe answered):
    // the ones due a heartbeat come first.
    std::set<std::pair<TimePoint, std::uint64_t>> quiet_;
    int busy_ = 0;
    std::priority_queue<Event, std::vector<Event>, std::greater<>> events_;
    std::vector<ClosedSessionRecord> closed_;
    CycleRecord pending_;  // counts since the previous record
    std::uint64_t work_steps_ = 0;
};

}  // namespace anytls::pool
