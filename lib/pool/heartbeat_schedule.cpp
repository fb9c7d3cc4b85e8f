// The heartbeat schedule (see heartbeat_schedule.hpp).
#include "pool/heartbeat_schedule.hpp"

#include <algorithm>

namespace anytls::pool {

bool heartbeat_due(TimePoint idle_since, TimePoint last_heartbeat, TimePoint now,
                   Duration heartbeat_interval) {
    if (heartbeat_interval <= Duration::zero()) return false;
    return now - std::max(idle_since, last_heartbeat) >= heartbeat_interval;
}

Duration maintenance_sleep(Duration until_next_cycle, Duration heartbeat_interval) {
    Duration sleep = until_next_cycle;
    if (heartbeat_interval > Duration::zero() && heartbeat_interval < sleep)
        sleep = heartbeat_interval;
    return std::max<Duration>(sleep, std::chrono::milliseconds(1));
}

}  // namespace anytls::pool
