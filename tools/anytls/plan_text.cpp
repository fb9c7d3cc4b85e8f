// The terminal report of `anytls plan`: settings with their sources, a timeline with one line
// per cycle (or per bucket of cycles), and a summary (see plan_report.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "plan_report.hpp"

namespace anytls::cli {

namespace {

constexpr int kChartWidth = 40;  // characters of the widest bar

// The keys that shape what the simulator does; the others (heartbeat-timeout, keepalive,
// client name) act on the network, which the simulator does not model.
constexpr std::array<config::PoolKeyId, 11> kSimulatedKeys{
    config::PoolKeyId::ensure_idle_session,     config::PoolKeyId::ensure_idle_session_create_rate,
    config::PoolKeyId::min_idle_session,        config::PoolKeyId::min_idle_session_for_age,
    config::PoolKeyId::max_connection_lifetime, config::PoolKeyId::connection_lifetime_jitter,
    config::PoolKeyId::idle_session_timeout,    config::PoolKeyId::idle_session_check_interval,
    config::PoolKeyId::session_reuse,           config::PoolKeyId::heartbeat_interval,
    config::PoolKeyId::creation_backoff_max,
};

// Virtual times are whole milliseconds or coarser; rounding hides double noise in labels.
config::Duration seconds(double s) {
    return std::chrono::round<std::chrono::milliseconds>(std::chrono::duration<double>(s));
}

// A count column: dim when zero, in the event's colour otherwise.
std::string count_cell(long long value, int width, Style style, const Terminal& term,
                       std::string_view sign = "") {
    const std::string text = value == 0
                                 ? fmt::format("{:>{}}", 0, width)
                                 : fmt::format("{:>{}}", fmt::format("{}{}", sign, value), width);
    return term.paint(text, value == 0 ? Style::dim : style);
}

int bar_chars(int count, int per_char) {
    if (count <= 0) return 0;
    return std::max(1, static_cast<int>(std::lround(static_cast<double>(count) / per_char)));
}

std::string settings_section(const PlanRun& run, const Terminal& term) {
    std::string out =
        term.paint("Settings", Style::bold) + " (resolved value, and where it came from):\n";
    std::size_t name_width = 0, value_width = 0;
    std::vector<std::pair<std::string, std::string>> rows;
    for (config::PoolKeyId id : kSimulatedKeys) {
        rows.emplace_back(std::string(config::pool_key(id).name),
                          config::format_pool_value(config::get_pool_value(run.settings, id)));
        name_width = std::max(name_width, rows.back().first.size());
        value_width = std::max(value_width, rows.back().second.size());
    }
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const config::Source source = run.sources[kSimulatedKeys[i]];
        out += fmt::format("  {:<{}}  {:<{}}  {}\n", rows[i].first, name_width, rows[i].second,
                           value_width, term.paint(config::source_name(source), Style::dim));
    }
    return out;
}

std::string timeline_section(const PlanRun& run, int cycles_per_line, const Terminal& term) {
    int max_total = 0;
    for (const pool::CycleRecord& r : run.records)
        max_total = std::max(max_total, r.idle + r.busy + r.creating);
    const int per_char = std::max(1, (max_total + kChartWidth - 1) / kChartWidth);

    std::string out = term.paint("Timeline", Style::bold);
    out +=
        cycles_per_line == 1
            ? ": one line per cycle; sessions right after the cleanup, events since the line "
              "above.\n"
            : fmt::format(
                  ": one line per {} cycles; sessions after the last cleanup of each line, events "
                  "summed over its cycles.\n",
                  cycles_per_line);
    out += fmt::format("  Chart: {} idle  {} busy  {} creating{}\n", term.paint("#", Style::green),
                       term.paint("=", Style::yellow), term.paint("~", Style::cyan),
                       per_char == 1 ? std::string(", one character per session")
                                     : fmt::format(", one character per {} sessions", per_char));
    out += term.paint(
        fmt::format("  {:>8}  {:>4} {:>4} {:>5} | {:>5} {:>5} {:>5} | {:>9} | chart\n", "time",
                    "idle", "busy", "creat", "new", "-idle", "-age", "protected"),
        Style::dim);
    for (std::size_t begin = 0; begin < run.records.size();
         begin += static_cast<std::size_t>(cycles_per_line)) {
        const std::size_t end =
            std::min(run.records.size(), begin + static_cast<std::size_t>(cycles_per_line));
        const pool::CycleRecord& last = run.records[end - 1];
        long long created = 0, closed_idle = 0, closed_age = 0;
        for (std::size_t i = begin; i < end; ++i) {
            created += run.records[i].created;
            closed_idle += run.records[i].closed_idle;
            closed_age += run.records[i].closed_age + run.records[i].closed_at_stream_end;
        }
        std::string bar =
            term.paint(std::string(static_cast<std::size_t>(bar_chars(last.idle, per_char)), '#'),
                       Style::green);
        bar +=
            term.paint(std::string(static_cast<std::size_t>(bar_chars(last.busy, per_char)), '='),
                       Style::yellow);
        bar += term.paint(
            std::string(static_cast<std::size_t>(bar_chars(last.creating, per_char)), '~'),
            Style::cyan);
        const std::string protected_cell =
            fmt::format("{}/{}", last.protected_idle, last.protected_age);
        long long failed = 0;
        bool down = false;
        for (std::size_t i = begin; i < end; ++i) {
            failed += run.records[i].creation_failures;
            down = down || run.records[i].server_down;
        }
        // Only a run with --outage has these, so other timelines read as before.
        if (down) bar += term.paint(" server down", Style::red);
        if (failed > 0) bar += term.paint(fmt::format(" {} failed", failed), Style::red);
        out += fmt::format(
            "  {:>8}  {:>4} {:>4} {:>5} | {} {} {} | {} | {}\n",
            config::format_duration(seconds(last.t_s)), last.idle, last.busy, last.creating,
            count_cell(created, 5, Style::cyan, term, "+"),
            count_cell(closed_idle, 5, Style::red, term, "-"),
            count_cell(closed_age, 5, Style::red, term, "-"),
            term.paint(fmt::format("{:>9}", protected_cell),
                       last.protected_idle + last.protected_age == 0 ? Style::dim : Style::plain),
            bar);
    }
    out += term.paint(
        "  (-age includes sessions closed when their stream ended; protected = idle/age kept by "
        "the floors)\n",
        Style::dim);
    return out;
}

std::string summary_section(const PlanRun& run, const Terminal& term) {
    const PlanTotals t = summarize(run);
    const auto at = [&](std::size_t cycle) {
        return fmt::format("{} (cycle {})",
                           config::format_duration(seconds(run.records[cycle].t_s)), cycle + 1);
    };
    std::string out =
        term.paint("Summary", Style::bold) +
        fmt::format(" over {} ({} cycles):\n", config::format_duration(run.duration), t.cycles);
    out += fmt::format("  streams opened          {}", t.streams);
    if (t.streams > 0)
        out += fmt::format(", {} of them waited for a handshake (no idle session was ready)",
                           t.created_on_demand);
    out += '\n';
    out += fmt::format("  sessions created        {} ({} proactive, {} on demand)\n", t.created,
                       t.created - t.created_on_demand, t.created_on_demand);
    out += fmt::format(
        "  sessions closed         {} (idle {}, age {}, aged at stream end {}, no reuse {})\n",
        t.closed_idle + t.closed_age + t.closed_aged_at_stream_end + t.closed_no_reuse,
        t.closed_idle, t.closed_age, t.closed_aged_at_stream_end, t.closed_no_reuse);
    out += fmt::format(
        "  protected               up to {} per cycle by idle cleanup, up to {} by age cleanup\n",
        t.protected_idle_max, t.protected_age_max);
    out += fmt::format("  idle sessions           min {}, max {}", t.idle_min, t.idle_max);
    if (!run.records.empty()) out += fmt::format(", {} at the end", run.records.back().idle);
    if (t.idle_min_after_target)
        out += fmt::format("; min {} once the target was reached", *t.idle_min_after_target);
    out += '\n';
    const int target = run.settings.ensure_idle_session;
    if (target > 0) {
        out += fmt::format("  {:<24}", fmt::format("target {} idle", target));
        if (t.target_in_reach_cycle)
            out += fmt::format("idle + creating reached it at {}", at(*t.target_in_reach_cycle));
        else
            out += "idle + creating never reached it";
        if (t.target_idle_cycle)
            out += fmt::format(", idle at {}", at(*t.target_idle_cycle));
        else
            out += ", idle never did";
        out += '\n';
    }
    if (t.heartbeats > 0 || run.settings.heartbeat_interval.count() > 0)
        out += fmt::format("  heartbeats sent         {} (every {} to each quiet idle session)\n",
                           t.heartbeats, config::format_duration(run.settings.heartbeat_interval));
    if (t.aged_lifetime_min)
        out += fmt::format(
            "  aged-out lifetimes      {} .. {} (to the second)\n",
            config::format_duration(std::chrono::round<std::chrono::seconds>(*t.aged_lifetime_min)),
            config::format_duration(
                std::chrono::round<std::chrono::seconds>(*t.aged_lifetime_max)));
    return out;
}

// One outage: the cycles from the server going down to the pool's recovery, the ones where
// something happened (failures, a hold-back, the server down).
std::string outage_section(const PlanRun& run, const pool::Outage& outage, const Terminal& term) {
    constexpr std::size_t kMaxRows = 40;
    const double from_s = std::chrono::duration<double>(outage.start).count();
    const double to_s = std::chrono::duration<double>(outage.start + outage.length).count();
    const int target = run.settings.ensure_idle_session;
    std::string out = term.paint("Outage", Style::bold) +
                      fmt::format(": the server is down from {} to {} (creation-backoff-max {})\n",
                                  config::format_duration(seconds(from_s)),
                                  config::format_duration(seconds(to_s)),
                                  config::format_duration(run.settings.creation_backoff_max));
    out += term.paint(fmt::format("  {:>8}  {:>6} {:>6} {:>8} {:>9} {:>9} {:>4}\n", "time",
                                  "server", "failed", "in a row", "backoff", "left", "idle"),
                      Style::dim);
    std::size_t rows = 0, skipped = 0;
    long long failures = 0, failed_streams = 0, died = 0;
    double backoff_max = 0;
    std::optional<std::size_t> recovered;
    for (std::size_t i = 0; i < run.records.size(); ++i) {
        const pool::CycleRecord& r = run.records[i];
        if (r.t_s < from_s) continue;
        failures += r.creation_failures;
        failed_streams += r.failed_streams;
        died += r.closed_outage;
        backoff_max = std::max(backoff_max, r.backoff_s);
        const bool eventful =
            r.server_down || r.creation_failures > 0 || r.backoff_left_s > 0 || r.closed_outage > 0;
        if (eventful && rows < kMaxRows) {
            out +=
                fmt::format("  {:>8}  {:>6} {:>6} {:>8} {:>9} {:>9} {:>4}\n",
                            config::format_duration(seconds(r.t_s)), r.server_down ? "down" : "up",
                            r.creation_failures, r.consecutive_failures,
                            config::format_duration(seconds(r.backoff_s)),
                            config::format_duration(seconds(r.backoff_left_s)), r.idle);
            ++rows;
        } else if (eventful) {
            ++skipped;
        }
        const bool back = !r.server_down && r.t_s >= to_s && r.consecutive_failures == 0;
        if (back && r.idle >= std::max(target, 0)) {
            recovered = i;
            break;
        }
    }
    if (skipped > 0) out += fmt::format("  ... {} more cycles like these\n", skipped);
    out += fmt::format(
        "  {} sessions died when it went down; {} creations failed, {} streams with "
        "them; the longest hold-back was {}\n",
        died, failures, failed_streams, config::format_duration(seconds(backoff_max)));
    if (recovered)
        out += fmt::format("  recovered at {}: creations succeed again{}\n",
                           config::format_duration(seconds(run.records[*recovered].t_s)),
                           target > 0 ? fmt::format(" and {} sessions are idle (the target)",
                                                    run.records[*recovered].idle)
                                      : std::string());
    else
        out += "  not recovered by the end of the run\n";
    return out;
}

}  // namespace

std::string render_plan_text(const PlanRun& run, int cycles_per_line, const Terminal& term) {
    std::string out =
        term.paint(fmt::format("Pool plan for proxy \"{}\"", run.proxy_name), Style::bold);
    out += fmt::format(" ({})\n", run.config_path);
    out += fmt::format(
        "  {} simulated = {} cycles of {}; traffic: {}; handshakes take {}; seed {}\n\n",
        config::format_duration(run.duration), run.records.size(),
        config::format_duration(run.settings.idle_session_check_interval), run.traffic,
        config::format_duration(run.handshake_delay), run.seed);
    out += settings_section(run, term);
    out += '\n';
    out += timeline_section(run, cycles_per_line, term);
    out += '\n';
    out += summary_section(run, term);
    for (const pool::Outage& outage : run.outages) {
        out += '\n';
        out += outage_section(run, outage, term);
    }
    return out;
}

}  // namespace anytls::cli
