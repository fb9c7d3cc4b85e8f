// PoolPolicy: the pure decisions of the session pool (docs/DESIGN.md, "Architecture" and "The
// cleanup cycle").
//
// SessionPool (lib/client) owns the sessions and does the I/O; every rule about which
// session to close and how many to create lives here instead, as functions of a snapshot,
// the resolved settings and a `now` passed in. No clock, no randomness of its own (lifetimes
// are drawn by lifetime.hpp from an injected source), no logging: the plan carries its log
// lines. That is what lets tests drive hours of pool behaviour on a virtual clock, and lets
// `anytls plan` simulate a configuration (simulator.hpp) before it is deployed.
#pragma once

#include <span>

#include "config/pool_settings.hpp"
#include "pool/plan.hpp"
#include "pool/session_snapshot.hpp"

namespace anytls::pool {

// True when the session has a lifetime and has lived longer than it.
bool is_past_lifetime(const SessionInfo& session, TimePoint now);

// One cleanup cycle, run every idle-session-check-interval. In order:
//  1. Idle: walk idle sessions newest -> oldest (highest seq first). One idle for no more than
//     idle-session-timeout is kept. A timed-out one is kept (protected) while fewer than
//     max(min-idle-session, ensure-idle-session) sessions have been kept so far, else closed.
//  2. Age: of the idle sessions step 1 left, those past their lifetime are closed oldest
//     first (created_at, then seq), but never so many that fewer than
//     min-idle-session-for-age idle sessions remain; the spared ones are protected.
//  3. Proactive: deficit = ensure-idle-session - (idle left + creating); start
//     min(deficit, ensure-idle-session-create-rate) creations (rate 0 = no limit).
// Busy sessions are never closed here (see on_stream_end).
Plan plan_cleanup(std::span<const SessionInfo> sessions, const config::PoolSettings& settings,
                  TimePoint now);

enum class StreamEndAction {
    return_to_idle,  // back to the pool, idle since now
    close_aged,      // past its lifetime and the idle pool can spare it
    close_no_reuse,  // session-reuse = false: one stream per session
};

struct StreamEndDecision {
    StreamEndAction action = StreamEndAction::return_to_idle;
    bool age_protected = false;  // past its lifetime but kept by min-idle-session-for-age
};

// A busy session's stream ended (the session itself is healthy; a failed one is simply
// closed). docs/DESIGN.md, "The session pool": a busy session is never cut for age; past its
// lifetime it is closed when its stream ends, under the same protection as step 2 — closed only if
// at least min-idle-session-for-age idle sessions remain without it. `idle_count` is the number of
// idle sessions in the pool now, not counting this one.
StreamEndDecision on_stream_end(const SessionInfo& session, const config::PoolSettings& settings,
                                int idle_count, TimePoint now);

}  // namespace anytls::pool
