// Creation backoff and the early-death rule (see creation_backoff.hpp).
#include "pool/creation_backoff.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace anytls::pool {

bool is_early_death(TimePoint created_at, TimePoint now) {
    return now - created_at < kEarlyDeathWindow;
}

Duration backoff_delay(int consecutive_failures, Duration backoff_max) {
    if (backoff_max <= Duration::zero() || consecutive_failures <= 0) return Duration::zero();
    Duration d = std::chrono::seconds(1);
    for (int i = 1; i < consecutive_failures && d < backoff_max; ++i) d *= 2;
    return std::min(d, backoff_max);
}

void CreationBackoff::record_failure(TimePoint now, const config::PoolSettings& settings) {
    ++consecutive_failures_;
    until_ = now + backoff_delay(consecutive_failures_, settings.creation_backoff_max);
}

bool CreationBackoff::record_session_death(TimePoint created_at, TimePoint now,
                                           const config::PoolSettings& settings) {
    if (!is_early_death(created_at, now)) return false;
    record_failure(now, settings);
    return true;
}

GatedCreations CreationBackoff::gate(int planned, TimePoint now, std::string_view proxy) const {
    if (planned <= 0 || !holding_back(now)) return {std::max(planned, 0), {}};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(until_ - now).count();
    return {
        0, fmt::format(
               "[AnyTLS] Proactive creation for {} backing off for {}ms after {} failures in a row",
               proxy, ms, consecutive_failures_)};
}

std::string creation_failure_line(std::string_view proxy, int consecutive_failures,
                                  std::string_view reason) {
    return fmt::format("[AnyTLS] Session creation for {} failed ({} in a row): {}", proxy,
                       consecutive_failures, reason);
}

}  // namespace anytls::pool
