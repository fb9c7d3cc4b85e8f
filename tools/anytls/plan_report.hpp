// `anytls plan` output: one simulated run of a proxy's pool (PlanRun) and the three ways to
// show it — the terminal timeline with its summary, JSON lines, and an SVG plot.
//
// The renderers are pure: they take the run and return text, so cmd_plan.cpp decides where
// the text goes (stdout or a file) and what an I/O failure means.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/pool_keys.hpp"
#include "config/pool_settings.hpp"
#include "pool/simulator.hpp"
#include "terminal.hpp"

namespace anytls::cli {

struct PlanRun {
    std::string proxy_name;
    std::string config_path;
    config::PoolSettings settings;
    config::PoolSources sources;
    std::string traffic;  // "steady: 0.2 streams/s, streams last 10s on average"
    std::uint64_t seed = 1;
    config::Duration duration{0};
    config::Duration handshake_delay{0};
    std::vector<pool::CycleRecord> records;         // one per cleanup cycle
    std::vector<pool::ClosedSessionRecord> closed;  // every session that left the pool
    std::vector<pool::Outage> outages;              // --outage: when the server was down
};

// The figures of the summary, computed once from the records.
struct PlanTotals {
    int cycles = 0;
    long long streams = 0;
    long long created = 0;  // creations started, proactive and on demand
    long long created_on_demand =
        0;  // = streams that found no idle session and waited for a handshake
    long long closed_idle = 0;
    long long closed_age = 0;
    long long closed_aged_at_stream_end = 0;
    long long closed_no_reuse = 0;
    int protected_idle_max = 0;  // the most protected in one cycle
    int protected_age_max = 0;
    int idle_min = 0;
    int idle_max = 0;
    std::optional<int>
        idle_min_after_target;  // min idle from the first cycle idle reached the target
    std::optional<std::size_t>
        target_in_reach_cycle;  // first cycle (index) with idle + creating >= target
    std::optional<std::size_t> target_idle_cycle;  // first cycle (index) with idle >= target
    std::optional<config::Duration>
        aged_lifetime_min;  // lifetimes actually lived by sessions closed for age
    std::optional<config::Duration> aged_lifetime_max;
    long long heartbeats = 0;
    long long creation_failures = 0;
    long long failed_streams = 0;  // waited for a creation that failed
    long long closed_outage = 0;
    double backoff_max_s = 0;  // the longest hold-back a cycle saw
};

PlanTotals summarize(const PlanRun& run);

// The default bucket size of the timeline: one line per cycle up to 60 cycles, else as many
// cycles per line as keep it at most 60 lines.
int default_cycles_per_line(std::size_t cycles);

// The settings, the timeline (one line per `cycles_per_line` cycles) and the summary.
std::string render_plan_text(const PlanRun& run, int cycles_per_line, const Terminal& terminal);

// One JSON object per cycle, one per line:
// {"t_s": 60, "idle": 0, "busy": 0, "creating": 1, "created": 1, "closed_idle": 0, "closed_age": 0,
//  "protected_idle": 0, "protected_age": 0, "streams": 0, "created_on_demand": 0,
//  "closed_at_stream_end": 0, "creation_failures": 0, "failed_streams": 0, "closed_outage": 0,
//  "heartbeats": 0, "consecutive_failures": 0, "backoff_s": 0, "backoff_left_s": 0, "server_down": false}
std::string render_plan_json_lines(const PlanRun& run);

// A self-contained SVG document: per column of cycles (at most one per two pixels), idle,
// creating and busy sessions as stacked areas with their peak, and closures as bars.
std::string render_plan_svg(const PlanRun& run);

}  // namespace anytls::cli
