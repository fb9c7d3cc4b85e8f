// The summary figures and the JSON lines of `anytls plan` (see plan_report.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "plan_report.hpp"

namespace anytls::cli {

namespace {
constexpr std::size_t kMaxTimelineLines = 60;
}

int default_cycles_per_line(std::size_t cycles) {
    return static_cast<int>(
        std::max<std::size_t>(1, (cycles + kMaxTimelineLines - 1) / kMaxTimelineLines));
}

PlanTotals summarize(const PlanRun& run) {
    PlanTotals totals;
    totals.cycles = static_cast<int>(run.records.size());
    const int target = run.settings.ensure_idle_session;
    bool first = true;
    for (std::size_t i = 0; i < run.records.size(); ++i) {
        const pool::CycleRecord& r = run.records[i];
        totals.streams += r.streams;
        totals.created += r.created;
        totals.created_on_demand += r.created_on_demand;
        totals.closed_idle += r.closed_idle;
        totals.closed_age += r.closed_age;
        totals.heartbeats += r.heartbeats;
        totals.creation_failures += r.creation_failures;
        totals.failed_streams += r.failed_streams;
        totals.closed_outage += r.closed_outage;
        totals.backoff_max_s = std::max(totals.backoff_max_s, r.backoff_s);
        totals.protected_idle_max = std::max(totals.protected_idle_max, r.protected_idle);
        totals.protected_age_max = std::max(totals.protected_age_max, r.protected_age);
        totals.idle_min = first ? r.idle : std::min(totals.idle_min, r.idle);
        totals.idle_max = first ? r.idle : std::max(totals.idle_max, r.idle);
        first = false;
        if (target > 0) {
            if (!totals.target_in_reach_cycle && r.idle + r.creating >= target)
                totals.target_in_reach_cycle = i;
            if (!totals.target_idle_cycle && r.idle >= target) totals.target_idle_cycle = i;
            if (totals.target_idle_cycle)
                totals.idle_min_after_target =
                    std::min(totals.idle_min_after_target.value_or(r.idle), r.idle);
        }
    }
    for (const pool::ClosedSessionRecord& c : run.closed) {
        using Why = pool::ClosedSessionRecord::Why;
        if (c.why == Why::age_at_stream_end) ++totals.closed_aged_at_stream_end;
        if (c.why == Why::no_reuse) ++totals.closed_no_reuse;
        if (c.why == Why::age || c.why == Why::age_at_stream_end) {
            const config::Duration lived = c.closed_at - c.created_at;
            totals.aged_lifetime_min = std::min(totals.aged_lifetime_min.value_or(lived), lived);
            totals.aged_lifetime_max = std::max(totals.aged_lifetime_max.value_or(lived), lived);
        }
    }
    return totals;
}

namespace {
// Whole seconds as an integer ("1200000", where shortest-double formatting would give
// "1.2e+06"); fractions (sub-second check intervals) as the shortest exact double.
std::string json_seconds(double t) {
    if (t == std::floor(t) && std::fabs(t) < 9e15)
        return fmt::format("{}", static_cast<long long>(t));
    return fmt::format("{}", t);
}
}  // namespace

std::string render_plan_json_lines(const PlanRun& run) {
    std::string out;
    for (const pool::CycleRecord& r : run.records) {
        fmt::format_to(
            std::back_inserter(out),
            "{{\"t_s\": {}, \"idle\": {}, \"busy\": {}, \"creating\": {}, \"created\": {}, "
            "\"closed_idle\": {}, \"closed_age\": {}, \"protected_idle\": {}, \"protected_age\": "
            "{}, "
            "\"streams\": {}, \"created_on_demand\": {}, \"closed_at_stream_end\": {}, "
            "\"creation_failures\": {}, \"failed_streams\": {}, \"closed_outage\": {}, "
            "\"heartbeats\": {}, \"consecutive_failures\": {}, \"backoff_s\": {}, "
            "\"backoff_left_s\": {}, \"server_down\": {}}}\n",
            json_seconds(r.t_s), r.idle, r.busy, r.creating, r.created, r.closed_idle, r.closed_age,
            r.protected_idle, r.protected_age, r.streams, r.created_on_demand,
            r.closed_at_stream_end, r.creation_failures, r.failed_streams, r.closed_outage,
            r.heartbeats, r.consecutive_failures,
            json_seconds(std::round(r.backoff_s * 1000) / 1000),
            json_seconds(std::round(r.backoff_left_s * 1000) / 1000), r.server_down);
    }
    return out;
}

}  // namespace anytls::cli
