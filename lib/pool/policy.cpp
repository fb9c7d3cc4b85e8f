// The cleanup cycle and the stream-end rule (see policy.hpp). Every step follows docs/DESIGN.md,
// "The cleanup cycle", literally; where this differs from mihomo's
// transport/anytls/session/client.go (whose cleanup() mihomo's anytls-session-management.md, the
// feature description, documents), the comment says why.
#include "pool/policy.hpp"

#include <algorithm>
#include <vector>

namespace anytls::pool {

bool is_past_lifetime(const SessionInfo& session, TimePoint now) {
    // Strictly past, as mihomo's now.After(createdAt + lifetime).
    return session.lifetime.count() > 0 && now - session.created_at > session.lifetime;
}

Plan plan_cleanup(std::span<const SessionInfo> sessions, const config::PoolSettings& settings,
                  TimePoint now) {
    Plan plan;

    std::vector<const SessionInfo*> idle;
    int in_flight = 0;
    for (const SessionInfo& session : sessions) {
        if (session.state == PoolSessionState::idle)
            idle.push_back(&session);
        else if (session.state == PoolSessionState::creating)
            ++in_flight;
    }

    // Step 1: idle cleanup, newest -> oldest, the order in which sessions are reused
    // (docs/DESIGN.md, "The session pool"), so the sessions kept are the ones the next streams will
    // take. The floor includes ensure-idle-session on purpose: without it, proactively created
    // sessions are closed as idle at the next cycle and a slow-rate pool never reaches its target
    // (mihomo uses min-idle-session alone; see docs/DESIGN.md, "The cleanup cycle"). Unlike mihomo,
    // a protected session keeps its idle-since: the snapshot is read-only, and a session kept by
    // the floor is still timed out, so it is counted as found each cycle.
    std::sort(idle.begin(), idle.end(),
              [](const SessionInfo* a, const SessionInfo* b) { return a->seq > b->seq; });
    const int floor = std::max(settings.min_idle_session, settings.ensure_idle_session);
    int kept = 0;
    std::vector<const SessionInfo*> remaining;
    for (const SessionInfo* session : idle) {
        if (now - session->idle_since <= settings.idle_session_timeout) {
            ++kept;
            remaining.push_back(session);
            continue;
        }
        ++plan.idle.found;
        if (kept < floor) {
            ++kept;
            ++plan.idle.kept_protected;
            remaining.push_back(session);
        } else {
            ++plan.idle.closing;
            plan.close.push_back({session->seq, CloseReason::idle});
        }
    }

    // Step 2: age cleanup over what step 1 left (a session closed as idle is not counted
    // again), oldest first, never leaving fewer than min-idle-session-for-age idle sessions.
    // (mihomo counts only the aged sessions it spares toward min-idle-session-for-age, so it
    // keeps that many aged sessions even when plenty of younger idle ones remain; this
    // counts every idle session that remains, which is what "keep minimum 2 sessions" means.)
    std::vector<const SessionInfo*> aged;
    for (const SessionInfo* session : remaining)
        if (is_past_lifetime(*session, now)) aged.push_back(session);
    std::sort(aged.begin(), aged.end(), [](const SessionInfo* a, const SessionInfo* b) {
        if (a->created_at != b->created_at) return a->created_at < b->created_at;
        return a->seq < b->seq;
    });
    const int idle_left = static_cast<int>(remaining.size());
    const int may_close = std::max(0, idle_left - settings.min_idle_session_for_age);
    plan.age.found = static_cast<int>(aged.size());
    plan.age.closing = std::min(plan.age.found, may_close);
    plan.age.kept_protected = plan.age.found - plan.age.closing;
    for (int i = 0; i < plan.age.closing; ++i)
        plan.close.push_back({aged[static_cast<std::size_t>(i)]->seq, CloseReason::age});

    // Step 3: proactive creation. In-flight creations count toward the target, so a cycle
    // that runs while handshakes are pending never overshoots it.
    plan.proactive.idle = idle_left - plan.age.closing;
    plan.proactive.in_flight = in_flight;
    plan.proactive.current = plan.proactive.idle + in_flight;
    plan.proactive.target = settings.ensure_idle_session;
    const int deficit = plan.proactive.target - plan.proactive.current;
    if (deficit > 0) {
        const int rate = settings.ensure_idle_session_create_rate;
        plan.proactive.creating = rate > 0 ? std::min(deficit, rate) : deficit;
    }

    // Log lines: emitted as mihomo's cleanup() emits them — the idle line only when a session
    // is closed as idle, the age line only when one is closed for age, the proactive line
    // only when creations start. A steady pool (all protected, at target) stays quiet; the
    // counts are in the plan for anyone who wants them anyway.
    if (plan.idle.closing > 0) plan.log_lines.push_back(idle_cleanup_line(plan.idle));
    if (plan.age.closing > 0) plan.log_lines.push_back(age_cleanup_line(plan.age));
    if (plan.proactive.creating > 0) plan.log_lines.push_back(proactive_line(plan.proactive));
    return plan;
}

StreamEndDecision on_stream_end(const SessionInfo& session, const config::PoolSettings& settings,
                                int idle_count, TimePoint now) {
    StreamEndDecision decision;
    if (!settings.session_reuse) {
        decision.action = StreamEndAction::close_no_reuse;
        return decision;
    }
    if (is_past_lifetime(session, now)) {
        // Same rule as step 2: closing it leaves idle_count idle sessions.
        if (idle_count >= settings.min_idle_session_for_age)
            decision.action = StreamEndAction::close_aged;
        else
            decision.age_protected = true;
    }
    return decision;
}

}  // namespace anytls::pool
