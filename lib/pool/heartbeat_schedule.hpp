// When idle sessions are probed, and when the pool wakes to do it (docs/DESIGN.md, "Session
// health").
//
// An idle session is probed once it has been quiet — no stream, no answered probe — for a
// whole heartbeat-interval (0 = heartbeats off). The maintenance loop sleeps until the next
// cleanup cycle, or one heartbeat interval when that is shorter, so probes fall due between
// cycles too. Pure: SessionPool and PoolSimulator both ask these.
#pragma once

#include "pool/session_snapshot.hpp"

namespace anytls::pool {

// True when a session idle since `idle_since`, last answering a probe at `last_heartbeat`,
// is due a probe at `now`.
bool heartbeat_due(TimePoint idle_since, TimePoint last_heartbeat, TimePoint now,
                   Duration heartbeat_interval);

// How long the maintenance loop sleeps when the next cycle is `until_next_cycle` away: the
// heartbeat interval when shorter (and on), never less than 1 ms.
Duration maintenance_sleep(Duration until_next_cycle, Duration heartbeat_interval);

}  // namespace anytls::pool
