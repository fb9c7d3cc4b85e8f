// Pool-wide behaviours over time: thundering-herd prevention by jitter, recovery after every
// session dies, in-flight creations and the target, session-reuse, repeatability.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "pool/simulator.hpp"
#include "pool_test_support.hpp"

using namespace pool_test;
using anytls::config::PoolSettings;
using anytls::pool::ClosedSessionRecord;
using anytls::pool::CycleRecord;
using anytls::pool::PoolSimulator;
using anytls::pool::SimulatorOptions;
using anytls::pool::TrafficModel;

namespace {

// 100 sessions created at the same instant (first cycle, no rate limit, instant handshakes);
// returns when each of them was closed for age.
std::vector<TimePoint> first_generation_expiries(Duration jitter, std::uint64_t seed) {
    PoolSettings settings;
    settings.ensure_idle_session = 100;
    settings.max_connection_lifetime = 2h;
    settings.connection_lifetime_jitter = jitter;
    PoolSimulator simulator(
        SimulatorOptions{.settings = settings, .handshake_delay = Duration{0}, .seed = seed});
    simulator.run(static_cast<int>(3h / settings.idle_session_check_interval));
    std::vector<TimePoint> expiries;
    for (const ClosedSessionRecord& closed : simulator.closed()) {
        if (closed.seq > 100) continue;
        CHECK(closed.why == ClosedSessionRecord::Why::age);
        CHECK(closed.created_at == simulator.start());  // the first cycle runs at start
        expiries.push_back(closed.closed_at);
    }
    return expiries;
}

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE("thundering herd: with jitter 30m, 100 sessions created together expire spread out") {
        for (std::uint64_t seed : {1u, 2u, 3u}) {
            CAPTURE(seed);
            const auto expiries = first_generation_expiries(30min, seed);
            REQUIRE(expiries.size() == 100);
            std::map<std::int64_t, int> per_minute;
            for (TimePoint at : expiries)
                ++per_minute[std::chrono::duration_cast<std::chrono::minutes>(at - kT0).count()];
            int busiest = 0;
            for (const auto& [minute, count] : per_minute) busiest = std::max(busiest, count);
            CHECK(busiest <= 10);            // at most 10% in any one-minute bucket
            CHECK(per_minute.size() >= 40);  // spread over most of the hour-wide window
            const auto [first, last] = std::minmax_element(expiries.begin(), expiries.end());
            CHECK(*last - *first >= 50min);
            CHECK(*first >= kT0 + 30s + 90min);
            CHECK(*last <= kT0 + 30s + 150min + 30s);
        }
    }

    TEST_CASE("thundering herd: without jitter they expire together") {
        const auto expiries = first_generation_expiries(Duration{0}, 1);
        REQUIRE(expiries.size() == 100);
        const auto [first, last] = std::minmax_element(expiries.begin(), expiries.end());
        CHECK(*first == *last);
        CHECK(*first - kT0 > 2h);
        CHECK(*first - kT0 <= 2h + 30s);
    }

    TEST_CASE(
        "recovery after every session is killed: at most rate per cycle, target after "
        "ceil(target/rate)") {
        struct Row {
            int target;
            int rate;
        };
        for (const Row row : {Row{10, 3}, Row{10, 1}, Row{10, 5}, Row{7, 10}, Row{20, 6}}) {
            CAPTURE(row.target);
            CAPTURE(row.rate);
            PoolSettings settings;
            settings.ensure_idle_session = row.target;
            settings.ensure_idle_session_create_rate = row.rate;
            PoolSimulator simulator(
                SimulatorOptions{.settings = settings, .handshake_delay = 500ms});
            const int fill = (row.target + row.rate - 1) / row.rate;  // ceil(target / rate)
            simulator.run(fill + 2);
            REQUIRE(simulator.snapshot().size() == static_cast<std::size_t>(row.target));

            simulator.kill_all();
            CHECK(simulator.snapshot().empty());
            const auto records = simulator.run(fill + 3);
            for (std::size_t i = 0; i < records.size(); ++i) {
                const int cycle = static_cast<int>(i) + 1;
                CAPTURE(cycle);
                CHECK(records[i].created <= row.rate);
                CHECK(records[i].idle + records[i].creating ==
                      std::min(cycle * row.rate, row.target));
                if (cycle < fill) CHECK(records[i].idle + records[i].creating < row.target);
            }
            CHECK(records[static_cast<std::size_t>(fill) - 1].idle +
                      records[static_cast<std::size_t>(fill) - 1].creating ==
                  row.target);
            CHECK(records[static_cast<std::size_t>(fill)].idle ==
                  row.target);  // handshakes done by the next cycle
        }
    }

    TEST_CASE(
        "in-flight creations never push the pool past its target, even with slow handshakes") {
        for (int rate : {0, 4}) {
            CAPTURE(rate);
            PoolSettings settings;
            settings.ensure_idle_session = 10;
            settings.ensure_idle_session_create_rate = rate;
            settings.max_connection_lifetime = 10min;
            settings.connection_lifetime_jitter = 5min;
            // Handshakes take three cycles: later cycles see them in flight.
            PoolSimulator simulator(
                SimulatorOptions{.settings = settings, .handshake_delay = 95s, .seed = 9});
            int max_in_flight = 0;
            for (const CycleRecord& record : simulator.run(240)) {
                CHECK(record.idle + record.creating <= 10);
                max_in_flight = std::max(max_in_flight, record.creating);
            }
            CHECK(max_in_flight >= 4);
            CHECK(simulator.sessions_started() < 240 * 10);
        }
    }

    TEST_CASE("session-reuse = false: every stream gets a fresh session, closed when it ends") {
        PoolSettings settings;
        settings.session_reuse = false;
        SimulatorOptions options{.settings = settings, .seed = 2};
        options.traffic.model = TrafficModel::steady;
        options.traffic.streams_per_second = 0.5;
        PoolSimulator simulator(options);
        int streams = 0, created = 0, closed = 0;
        for (const CycleRecord& record : simulator.run(120)) {
            streams += record.streams;
            created += record.created;
            closed += record.closed_at_stream_end;
            CHECK(record.idle == 0);
        }
        CHECK(streams > 100);
        CHECK(created == streams);
        CHECK(closed >= streams - 20);  // all but the streams still open at the end
    }

    TEST_CASE("the simulator is repeatable for a seed and sensitive to it") {
        PoolSettings settings;
        settings.ensure_idle_session = 4;
        settings.ensure_idle_session_create_rate = 2;
        settings.max_connection_lifetime = 20min;
        settings.connection_lifetime_jitter = 5min;
        SimulatorOptions options{.settings = settings, .seed = 77};
        options.traffic.model = TrafficModel::bursty;
        options.traffic.burst_size = 6;
        options.traffic.burst_period = 3min;

        auto summary = [](const std::vector<CycleRecord>& records) {
            std::vector<int> out;
            for (const auto& r : records)
                for (int v : {r.idle, r.busy, r.creating, r.created, r.closed_idle, r.closed_age,
                              r.protected_idle, r.protected_age, r.closed_at_stream_end, r.streams})
                    out.push_back(v);
            return out;
        };
        PoolSimulator first(options), second(options);
        const auto a = summary(first.run(400));
        CHECK(a == summary(second.run(400)));
        options.seed = 78;
        PoolSimulator third(options);
        CHECK(a != summary(third.run(400)));
    }

}  // TEST_SUITE
