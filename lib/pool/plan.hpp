// Plan: what one cleanup cycle decided (docs/DESIGN.md, "The cleanup cycle"), for SessionPool to
// carry out.
//
// The policy returns decisions, never performs them: which idle sessions to close and why,
// how many sessions to start creating, the counts behind those decisions, and the debug lines
// to log. The counts are the ones the log lines print, so tests can check both at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace anytls::pool {

enum class CloseReason {
    idle,  // step 1: idle longer than idle-session-timeout, beyond the protection floor
    age,   // step 2: past its drawn lifetime, beyond min-idle-session-for-age
};

struct SessionToClose {
    std::uint64_t seq = 0;
    CloseReason reason = CloseReason::idle;
    bool operator==(const SessionToClose&) const = default;
};

// Step 1. found = idle sessions past idle-session-timeout; closing = those closed;
// kept_protected = those kept by the floor max(min-idle-session, ensure-idle-session).
// Always found == closing + kept_protected.
struct IdleCleanupCounts {
    int found = 0;
    int closing = 0;
    int kept_protected = 0;
};

// Step 2. found = idle sessions (left after step 1) past their lifetime; closing = those
// closed; kept_protected = those spared by min-idle-session-for-age.
struct AgeCleanupCounts {
    int found = 0;
    int closing = 0;
    int kept_protected = 0;
};

// Step 3. current = idle (after steps 1 and 2) + in_flight creations; target =
// ensure-idle-session; creating = sessions this cycle starts = min(target - current, rate).
struct ProactiveCounts {
    int idle = 0;
    int in_flight = 0;
    int current = 0;
    int target = 0;
    int creating = 0;
};

struct Plan {
    std::vector<SessionToClose>
        close;  // step-1 closes in walk order, then step-2 closes oldest first
    IdleCleanupCounts idle;
    AgeCleanupCounts age;
    ProactiveCounts proactive;
    // Debug messages, in step order, to be logged at debug level. They carry no level tag:
    // the logger adds "[DEBUG] ", giving exactly the feature description's lines, e.g.
    //   [DEBUG] [AnyTLS] Idle cleanup: found 12 idle sessions, closing 7 (keeping 5 protected)
    std::vector<std::string> log_lines;

    int create() const { return proactive.creating; }
    bool empty() const { return close.empty() && proactive.creating == 0; }
};

// The message texts (without the level tag), shared by the policy and SessionPool.
std::string idle_cleanup_line(const IdleCleanupCounts& counts);
std::string age_cleanup_line(const AgeCleanupCounts& counts);
std::string proactive_line(const ProactiveCounts& counts);
std::string created_proactive_session_line(
    std::uint64_t seq);  // "[AnyTLS] Created proactive session #145"

}  // namespace anytls::pool
