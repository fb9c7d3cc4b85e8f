// PoolSettings: every resolved session-pool value of one outbound proxy (docs/DESIGN.md, "The
// session pool").
//
// This is what the loader produces per proxy after the priority merge (merge.hpp), what the
// pool policy (lib/pool) reads, and what the C API replaces when it sets the pool
// configuration of a live outbound — which is why validate() stands on its own: the same
// checks guard the TOML file and the live setter.
#pragma once

#include <chrono>
#include <string>

#include "base/result.hpp"
#include "config/duration.hpp"

namespace anytls::config {

struct PoolSources;  // pool_keys.hpp

// Counts above this are refused: no real pool needs more sessions, and the cap keeps every
// count inside an int with room for sums.
inline constexpr int kMaxSessionCount = 100'000;

struct PoolSettings {
    // Proactive maintenance (cleanup step 3).
    int ensure_idle_session = 0;              // target idle + creating; 0 = no proactive creation
    int ensure_idle_session_create_rate = 0;  // creations per cycle; 0 = no limit

    // Passive protections (cleanup steps 1 and 2).
    int min_idle_session = 0;  // idle-timeout floor (with ensure-idle-session, the max of both)
    int min_idle_session_for_age = 0;  // age cleanup never leaves fewer idle sessions than this

    // Age-based rotation: lifetime = max-connection-lifetime + U(-jitter, +jitter), drawn per
    // session. Lifetime 0 turns rotation off; jitter must stay below the lifetime.
    Duration max_connection_lifetime{0};
    Duration connection_lifetime_jitter{0};

    // Idle cleanup; both must be > 0.
    Duration idle_session_timeout = std::chrono::seconds(30);
    Duration idle_session_check_interval = std::chrono::seconds(30);

    // Session health (docs/DESIGN.md, "Session health"; beyond the reference clients).
    // 25 s: an idle session moves bytes at least every 50 s (a beat is due 25 s after the last
    // traffic and found by a wake-up at most 25 s later), inside a 60 s NAT mapping timeout.
    Duration heartbeat_interval = std::chrono::seconds(25);  // probe idle v2 sessions; 0 = off
    Duration heartbeat_timeout = std::chrono::seconds(10);   // no HeartResponse by then = dead; > 0
    Duration tcp_keepalive = std::chrono::seconds(15);       // SO_KEEPALIVE idle time; 0 = off
    bool session_reuse = true;  // false: close a session when its stream ends
    std::string client_name;    // Settings' client=; empty by default, as mihomo and sing-box
    Duration creation_backoff_max =
        std::chrono::seconds(60);  // cap of the failure backoff; 0 = no backoff

    bool operator==(const PoolSettings&) const = default;
};

// Checks every value against its rule (counts 0..kMaxSessionCount, intervals > 0, no negative
// duration, client-name without control characters) and the cross-key rule
// jitter < lifetime when lifetime > 0. The message names the key(s) with mihomo's spelling,
// e.g. "connection-lifetime-jitter (30m) must be less than max-connection-lifetime (20m)".
// With sources, each value in a cross-key message also says where it came from.
Result<void> validate(const PoolSettings& settings, const PoolSources* sources = nullptr);

}  // namespace anytls::config
