// The feature description's examples, run through the simulator on a virtual clock: each
// promise of its "Result" lists, from the TOML files in tests/data.
#include <doctest/doctest.h>

#include <algorithm>

#include "pool/simulator.hpp"
#include "pool_test_support.hpp"

using namespace pool_test;
using anytls::pool::ClosedSessionRecord;
using anytls::pool::CycleRecord;
using anytls::pool::PoolSimulator;
using anytls::pool::SimulatorOptions;
using anytls::pool::TrafficModel;

namespace {

int cycles_for(Duration span, Duration interval) { return static_cast<int>(span / interval); }

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE(
        "example 1: high availability — 10 ready sessions, rotation at 1.5-2.5 h, no idle churn") {
        const auto settings = settings_of("example1-high-availability.toml", "ha-service");
        PoolSimulator simulator(
            SimulatorOptions{.settings = settings, .handshake_delay = 300ms, .seed = 11});
        const auto records = simulator.run(cycles_for(10h, settings.idle_session_check_interval));

        // The first cycle creates the whole pool (no rate limit); from then on every cycle leaves
        // exactly 10 sessions ready or being created, and only this cycle's replacements are in
        // flight (handshakes take 300 ms, cycles 30 s).
        CHECK(records[0].created == 10);
        for (const CycleRecord& record : records) {
            CAPTURE(record.t_s);
            CHECK(record.idle + record.creating == 10);
            CHECK(record.closed_idle == 0);  // proactive sessions are never closed as idle
            CHECK(record.creating == record.created);
            CHECK(record.busy == 0);
        }
        // Between rotations the pool is simply full.
        for (std::size_t i = 1; i < records.size(); ++i)
            if (records[i].closed_age == 0) CHECK(records[i].idle == 10);

        // Every session closed for age had a lifetime in [1.5h, 2.5h] and was closed within one
        // check interval after it.
        int rotated = 0;
        for (const ClosedSessionRecord& closed : simulator.closed()) {
            REQUIRE(closed.why == ClosedSessionRecord::Why::age);
            const Duration age = closed.closed_at - closed.created_at;
            CHECK(closed.lifetime >= 90min);
            CHECK(closed.lifetime <= 150min);
            CHECK(age > closed.lifetime);
            CHECK(age <= closed.lifetime + settings.idle_session_check_interval);
            CHECK(age >= 90min);
            CHECK(age <= 150min + settings.idle_session_check_interval);
            ++rotated;
        }
        // About 10 sessions x (10h / 2h) rotations; certainly more than the first generation.
        CHECK(rotated >= 30);

        // The pool protects its 10 idle sessions once they pass the 10 minute idle timeout, and
        // logs nothing for it (only closures and creations are logged).
        CHECK(std::any_of(records.begin(), records.end(),
                          [](const CycleRecord& r) { return r.protected_idle == 10; }));
        for (const CycleRecord& record : records)
            for (const auto& line : record.log_lines)
                CHECK(line.find("Idle cleanup") == std::string::npos);
    }

    TEST_CASE(
        "example 1 under steady traffic: streams never wait for a handshake, nothing outlives its "
        "lifetime") {
        const auto settings = settings_of("example1-high-availability.toml", "ha-service");
        SimulatorOptions options{.settings = settings, .seed = 5};
        options.traffic.model = TrafficModel::steady;
        options.traffic.streams_per_second = 0.3;
        options.traffic.mean_stream_duration = 5s;
        PoolSimulator simulator(options);
        const auto records = simulator.run(cycles_for(8h, settings.idle_session_check_interval));

        int streams = 0;
        for (std::size_t i = 0; i < records.size(); ++i) {
            const CycleRecord& record = records[i];
            CAPTURE(record.t_s);
            streams += record.streams;
            CHECK(record.idle + record.creating >=
                  10);  // no rate limit: every cycle refills to target
            if (i > 0) CHECK(record.created_on_demand == 0);  // the pool was always ready
        }
        CHECK(streams > 5000);
        // Busy sessions are not part of the idle target (docs/DESIGN.md, "The cleanup cycle"), so the
        // sessions a cycle creates while streams run are surplus once those streams end, and idle
        // cleanup closes the oldest surplus after idle-session-timeout. Whatever way a session leaves,
        // it never outlives its lifetime by more than a check interval, or its last stream.
        for (const ClosedSessionRecord& closed : simulator.closed()) {
            CHECK(closed.lifetime >= 90min);
            CHECK(closed.lifetime <= 150min);
            if (closed.why == ClosedSessionRecord::Why::age)
                CHECK(closed.closed_at - closed.created_at <=
                      closed.lifetime + settings.idle_session_check_interval);
        }
        for (const auto& session : simulator.snapshot()) {
            if (session.state != anytls::pool::PoolSessionState::idle) continue;
            CHECK(simulator.now() - session.created_at <=
                  session.lifetime + settings.idle_session_check_interval);
        }
    }

    TEST_CASE(
        "example 2: rate-limited — one session per minute from the start, 5 after the 5th cycle") {
        const auto settings = settings_of("example2-rate-limited.toml", "rate-limited");
        PoolSimulator simulator(SimulatorOptions{.settings = settings});
        const auto records = simulator.run(12);

        for (std::size_t i = 0; i < records.size(); ++i) {
            const CycleRecord& record = records[i];
            const int cycle = static_cast<int>(i) + 1;
            CAPTURE(cycle);
            CHECK(record.t_s ==
                  doctest::Approx(60.0 * (cycle - 1)));  // the first cycle runs at start
            CHECK(record.created == (cycle <= 5 ? 1 : 0));
            CHECK(record.idle + record.creating == std::min(cycle, 5));
            // Idle timeout 30s < check interval 60s: the sessions made so far are timed out at
            // every cycle and survive only because ensure-idle-session is part of the floor.
            CHECK(record.closed_idle == 0);
            CHECK(record.protected_idle == std::min(cycle - 1, 5));
        }
        CHECK(records[0].log_lines ==
              std::vector<std::string>{
                  "[AnyTLS] Proactive pool maintenance: current=0, target=5, creating 1 sessions"});
        CHECK(records[4].log_lines ==
              std::vector<std::string>{
                  "[AnyTLS] Proactive pool maintenance: current=4, target=5, creating 1 sessions"});
        CHECK(records[4].t_s ==
              doctest::Approx(240.0));  // 5 sessions within the 5 minutes promised
        CHECK(records[5].idle == 5);
        CHECK(records[5].log_lines.empty());
    }

    TEST_CASE("example 3: security-sensitive — age cleanup never takes the idle pool below 2") {
        const auto settings = settings_of("example3-security-sensitive.toml", "secure-service");
        REQUIRE(settings.min_idle_session_for_age == 2);
        REQUIRE(settings.ensure_idle_session == 0);  // sessions come from traffic only

        auto check_run = [&](SimulatorOptions options) {
            PoolSimulator simulator(options);
            const auto records =
                simulator.run(cycles_for(12h, settings.idle_session_check_interval));
            int closed_age = 0, protected_age = 0;
            for (const CycleRecord& record : records) {
                CAPTURE(record.t_s);
                if (record.closed_age > 0) CHECK(record.idle >= 2);
                closed_age += record.closed_age;
                protected_age += record.protected_age;
            }
            // Every session that left for age lived 20-40 minutes (plus the time to notice).
            for (const ClosedSessionRecord& closed : simulator.closed()) {
                if (closed.why != ClosedSessionRecord::Why::age &&
                    closed.why != ClosedSessionRecord::Why::age_at_stream_end)
                    continue;
                CHECK(closed.lifetime >= 20min);
                CHECK(closed.lifetime <= 40min);
            }
            return std::pair{closed_age, protected_age};
        };

        SUBCASE("light steady traffic: a small pool whose aged sessions are protected") {
            SimulatorOptions options{.settings = settings, .seed = 3};
            options.traffic.model = TrafficModel::steady;
            options.traffic.streams_per_second = 0.05;
            options.traffic.mean_stream_duration = 20s;
            const auto [closed_age, protected_age] = check_run(options);
            CHECK(protected_age > 0);  // the protection was exercised
            (void)closed_age;
        }
        SUBCASE("bursts: many sessions age together, only the excess is closed") {
            SimulatorOptions options{.settings = settings, .seed = 4};
            options.traffic.model = TrafficModel::bursty;
            options.traffic.burst_size = 12;
            options.traffic.burst_period = 4min;
            options.traffic.mean_stream_duration = 30s;
            const auto [closed_age, protected_age] = check_run(options);
            CHECK(closed_age > 0);
            (void)protected_age;
        }
    }

    TEST_CASE("example 4: mixed — each proxy follows its own resolved settings") {
        const auto config = load_data("example4-mixed.toml");
        REQUIRE(config.proxies.size() == 3);
        struct Expected {
            const char* name;
            int target;
            int rate;
            int cycles_to_target;
        };
        const Expected expected[] = {
            {"standard-1", 5, 0, 1},
            {"premium-node", 20, 5, 4},
            {"limited-node", 3, 1, 3},
        };
        for (const Expected& want : expected) {
            CAPTURE(want.name);
            const auto& proxy = *std::find_if(config.proxies.begin(), config.proxies.end(),
                                              [&](const auto& p) { return p.name == want.name; });
            CHECK(proxy.pool.ensure_idle_session == want.target);
            CHECK(proxy.pool.ensure_idle_session_create_rate == want.rate);
            PoolSimulator simulator(SimulatorOptions{.settings = proxy.pool});
            const auto records =
                simulator.run(cycles_for(5h, proxy.pool.idle_session_check_interval));
            int reached = 0;
            for (std::size_t i = 0; i < records.size(); ++i) {
                const CycleRecord& record = records[i];
                if (want.rate > 0) CHECK(record.created <= want.rate);
                CHECK(record.idle + record.creating <= want.target);
                if (reached == 0 && record.idle + record.creating == want.target)
                    reached = static_cast<int>(i) + 1;
            }
            CHECK(reached == want.cycles_to_target);
            // The global 2h lifetime rotates everyone, with no jitter: the whole pool at once.
            int rotated = 0;
            for (const auto& closed : simulator.closed()) {
                CHECK(closed.why == ClosedSessionRecord::Why::age);
                CHECK(closed.lifetime == 2h);
                ++rotated;
            }
            CHECK(rotated >= want.target);
        }
    }

}  // TEST_SUITE
