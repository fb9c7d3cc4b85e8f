// Per-session lifetimes for age-based rotation (docs/DESIGN.md, "The session pool"):
//   lifetime = max-connection-lifetime + U(-jitter, +jitter)
// drawn once per session when it is created, truly uniform and independent per session —
// never derived from the sequence number. (mihomo derives it as seq % (2 * jitter), which
// puts the first thousands of sessions within microseconds of max - jitter: every session
// created together expires together, the thundering herd the jitter exists to prevent.)
// The result is never below one check interval, so a session always survives at least one
// cleanup cycle.
#pragma once

#include <functional>
#include <random>

#include "config/pool_settings.hpp"
#include "pool/session_snapshot.hpp"

namespace anytls::pool {

// A source of independent doubles, uniform in [0, 1). Injectable so tests can prove the
// uniformity check rejects a biased source; production passes a seeded engine.
using UniformSource = std::function<double()>;

// 0 when max-connection-lifetime is 0 (rotation off: the session has no age limit).
Duration draw_lifetime(const config::PoolSettings& settings, const UniformSource& uniform);
Duration draw_lifetime(const config::PoolSettings& settings, std::mt19937_64& engine);

}  // namespace anytls::pool
