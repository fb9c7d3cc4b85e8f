// The simulator runs the pool's health rules (creation_backoff.hpp, heartbeat_schedule.hpp): a
// server outage shows creation failures, the hold-back growing up to creation-backoff-max, and
// the recovery once the server is back; idle sessions are probed on the heartbeat schedule.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "pool/simulator.hpp"
#include "pool_test_support.hpp"

using namespace pool_test;
using anytls::pool::ClosedSessionRecord;
using anytls::pool::CycleRecord;
using anytls::pool::PoolSimulator;
using anytls::pool::SimulatorOptions;

namespace {
SimulatorOptions one_session_pool() {
    SimulatorOptions options;
    options.settings.ensure_idle_session = 1;
    options.settings.idle_session_check_interval = 10s;
    options.settings.creation_backoff_max = 1min;
    options.settings.heartbeat_interval = 0s;
    options.proxy_name = "sim";
    return options;
}

bool has_line(const CycleRecord& record, const std::string& start) {
    return std::any_of(record.log_lines.begin(), record.log_lines.end(),
                       [&](const std::string& line) { return line.rfind(start, 0) == 0; });
}
}  // namespace

TEST_CASE("an outage shows failures, backoff up to creation-backoff-max, and recovery") {
    SimulatorOptions options = one_session_pool();
    options.outages.push_back({10min, 5min});
    PoolSimulator simulator(options);
    const std::vector<CycleRecord> records = simulator.run(121);  // 0 .. 20 min

    // Up before the outage: one idle session, no failure.
    const CycleRecord& before = records[59];  // 9m50s
    CHECK(before.idle == 1);
    CHECK(before.consecutive_failures == 0);
    CHECK_FALSE(before.server_down);

    // Down: the session died with the server; creations fail and the hold-back doubles.
    CHECK(records[60].server_down);
    CHECK(records[60].closed_outage == 1);
    int failures = 0;
    std::vector<double> holdbacks;
    for (std::size_t i = 60; i < 90; ++i) {
        const CycleRecord& r = records[i];
        CAPTURE(r.t_s);
        CHECK(r.server_down);
        CHECK(r.idle == 0);
        failures += r.creation_failures;
        if (r.creation_failures > 0) holdbacks.push_back(r.backoff_s);
        CHECK(r.backoff_s <= 60.0);
        CHECK(r.backoff_left_s <= 60.0);
    }
    CHECK(failures >= 8);
    REQUIRE(holdbacks.size() >= 7);
    const std::vector<double> growth{1, 2, 4, 8, 16, 32, 60};
    CHECK(std::vector<double>(holdbacks.begin(), holdbacks.begin() + 7) == growth);
    CHECK(std::all_of(holdbacks.begin() + 6, holdbacks.end(), [](double s) { return s == 60.0; }));
    // A cycle inside a hold-back starts nothing and logs the pool's line for it.
    const auto held =
        std::find_if(records.begin() + 60, records.begin() + 90,
                     [](const CycleRecord& r) { return r.backoff_left_s > 0 && r.created == 0; });
    REQUIRE(held != records.begin() + 90);
    CHECK(has_line(*held, "[AnyTLS] Proactive creation for sim backing off for "));
    CHECK(std::any_of(records.begin() + 60, records.begin() + 90, [](const CycleRecord& r) {
        return has_line(r, "[AnyTLS] Session creation for sim failed (");
    }));

    // Up again: within one hold-back and a cycle of the end, a creation succeeds and the pool
    // is back at its target.
    const auto recovered = std::find_if(
        records.begin() + 90, records.end(),
        [](const CycleRecord& r) { return r.idle == 1 && r.consecutive_failures == 0; });
    REQUIRE(recovered != records.end());
    CHECK(recovered->t_s <= 15 * 60 + 60 + 10 + 10);
    CHECK(records.back().idle == 1);
    CHECK(records.back().backoff_s == 0);
    const auto& closed = simulator.closed();
    CHECK(std::count_if(closed.begin(), closed.end(), [](const ClosedSessionRecord& c) {
              return c.why == ClosedSessionRecord::Why::outage;
          }) == 1);
}

TEST_CASE("without an outage nothing fails and nothing backs off") {
    PoolSimulator simulator(one_session_pool());
    for (const CycleRecord& r : simulator.run(60)) {
        CHECK(r.creation_failures == 0);
        CHECK(r.backoff_s == 0);
        CHECK_FALSE(r.server_down);
    }
}

TEST_CASE("idle sessions are probed on the heartbeat schedule, between cycles too") {
    SimulatorOptions options = one_session_pool();
    options.settings.ensure_idle_session = 2;
    options.settings.idle_session_check_interval = 60s;
    options.settings.heartbeat_interval = 25s;
    PoolSimulator simulator(options);
    int probes = 0;
    for (const CycleRecord& r : simulator.run(11)) probes += r.heartbeats;  // 0 .. 10 min
    // Ready at 0.2 s; the loop wakes at each cycle + 25 s and + 50 s. First probe at 50 s, then
    // two a minute (at +25 s and +50 s) from 85 s to 590 s: 19 per session.
    CHECK(probes == 2 * 19);

    options.settings.heartbeat_interval = 0s;
    PoolSimulator quiet(options);
    for (const CycleRecord& r : quiet.run(11)) CHECK(r.heartbeats == 0);
}
