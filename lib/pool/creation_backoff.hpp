// CreationBackoff: when the pool holds back proactive creations after failures (docs/DESIGN.md,
// "Session health").
//
// Consecutive failed creations back off exponentially — 1 s, 2 s, 4 s, ... capped at
// creation-backoff-max (0 = no backoff) — so a server that is down is not redialled in a tight
// loop. A session that dies within kEarlyDeathWindow of its creation counts as a failed
// creation too: a server that accepts the handshake and drops the session at once is as down
// as one that refuses it. A creation that succeeds clears the count. Pure: SessionPool and
// PoolSimulator pass `now` and act on the answers, so both back off identically.
#pragma once

#include <string>
#include <string_view>

#include "config/pool_settings.hpp"
#include "pool/session_snapshot.hpp"

namespace anytls::pool {

// A session that dies within this long of its creation counts as a failed creation.
inline constexpr Duration kEarlyDeathWindow = std::chrono::seconds(5);

// True when a session created at `created_at` dying at `now` counts as a failed creation.
bool is_early_death(TimePoint created_at, TimePoint now);

// The hold-back after `consecutive_failures` failures in a row: 0 for none (or when
// `backoff_max` <= 0), else 2^(failures-1) seconds, never more than `backoff_max`.
Duration backoff_delay(int consecutive_failures, Duration backoff_max);

// What a cleanup cycle may start of the creations its plan asked for.
struct GatedCreations {
    int create = 0;        // the plan's count, or 0 while backing off
    std::string log_line;  // the debug line when held back; empty otherwise
};

class CreationBackoff {
public:
    // A creation failed at `now`.
    void record_failure(TimePoint now, const config::PoolSettings& settings);
    // A session died at `now`: counted as a failure when it was an early death. Returns
    // whether it counted.
    bool record_session_death(TimePoint created_at, TimePoint now,
                              const config::PoolSettings& settings);
    // A creation succeeded: the next failure starts again from 1 s. (A hold-back already
    // running is not cut short, as before: it ends by itself within the delay.)
    void record_success() { consecutive_failures_ = 0; }

    bool holding_back(TimePoint now) const { return now < until_; }
    Duration remaining(TimePoint now) const {
        return holding_back(now) ? until_ - now : Duration{0};
    }
    int consecutive_failures() const { return consecutive_failures_; }

    // The cycle's proactive creations: none while holding back, with the line that says so.
    // `proxy` names the pool in the line.
    GatedCreations gate(int planned, TimePoint now, std::string_view proxy) const;

private:
    int consecutive_failures_ = 0;
    TimePoint until_{};
};

// "[AnyTLS] Session creation for NAME failed (N in a row): REASON" (logged at warn level).
std::string creation_failure_line(std::string_view proxy, int consecutive_failures,
                                  std::string_view reason);

}  // namespace anytls::pool
