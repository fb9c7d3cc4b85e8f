// Lifetime draws (see lifetime.hpp).
#include "pool/lifetime.hpp"

#include <algorithm>
#include <cmath>

namespace anytls::pool {

Duration draw_lifetime(const config::PoolSettings& settings, const UniformSource& uniform) {
    const Duration base = settings.max_connection_lifetime;
    if (base.count() <= 0) return Duration{0};
    Duration lifetime = base;
    const Duration jitter = settings.connection_lifetime_jitter;
    if (jitter.count() > 0) {
        // u in [0, 1) -> offset in [-jitter, +jitter). A double carries 53 bits, far more than
        // any jitter needs in nanoseconds (2^53 ns is about 104 days).
        const double u = std::clamp(uniform(), 0.0, 1.0);
        const double offset = (2.0 * u - 1.0) * static_cast<double>(jitter.count());
        lifetime = base + Duration{static_cast<Duration::rep>(std::llround(offset))};
    }
    // Never below one check interval (docs/DESIGN.md, "The session pool"); validate() keeps jitter
    // < lifetime, so this only matters for lifetimes close to the interval.
    return std::max(lifetime, Duration{settings.idle_session_check_interval});
}

Duration draw_lifetime(const config::PoolSettings& settings, std::mt19937_64& engine) {
    std::uniform_real_distribution<double> distribution(0.0, 1.0);
    return draw_lifetime(settings, [&] { return distribution(engine); });
}

}  // namespace anytls::pool
