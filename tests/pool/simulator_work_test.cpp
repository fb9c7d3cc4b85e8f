// The simulator's cost: its work grows linearly with the simulated time, however many
// sessions pile up. Measured in the simulator's own work steps (simulator.hpp), not in
// seconds, so the test means the same on a slow or busy machine.
#include <doctest/doctest.h>

#include <limits>
#include <string>

#include "pool/simulator.hpp"
#include "pool_test_support.hpp"

using namespace pool_test;
using anytls::pool::PoolSimulator;
using anytls::pool::SimulatorOptions;
using anytls::pool::TrafficModel;

namespace {

// Work steps of `duration` of steady traffic on example 1's pool.
std::uint64_t work_steps_for(Duration duration, double streams_per_second,
                             Duration mean_stream_duration) {
    const auto settings = settings_of("example1-high-availability.toml", "ha-service");
    SimulatorOptions options{.settings = settings, .seed = 3};
    options.traffic.model = TrafficModel::steady;
    options.traffic.streams_per_second = streams_per_second;
    options.traffic.mean_stream_duration = mean_stream_duration;
    PoolSimulator simulator(options);
    simulator.run(static_cast<int>(duration / settings.idle_session_check_interval) + 1);
    return simulator.work_steps();
}

}  // namespace

TEST_CASE("work grows linearly with simulated time while busy sessions pile up") {
    // Streams of an hour on average at 20 per second: by 40 minutes some 48,000 sessions
    // exist, nearly all busy. Four times the time must cost about four times the work
    // (a little more, as more of the streams have ended), not sixteen.
    const std::uint64_t ten = work_steps_for(10min, 20, 1h);
    const std::uint64_t forty = work_steps_for(40min, 20, 1h);
    const double ratio = static_cast<double>(forty) / static_cast<double>(ten);
    CAPTURE(ten);
    CAPTURE(forty);
    CHECK(ten >= 2 * 20 * 600);  // every stream arrives and its session's handshake ends
    CHECK(ratio > 3.5);
    CHECK(ratio < 5);
}

TEST_CASE("work grows linearly with simulated time in a steady state") {
    const std::uint64_t one = work_steps_for(1h, 2, 10s);
    const std::uint64_t four = work_steps_for(4h, 2, 10s);
    const double ratio = static_cast<double>(four) / static_cast<double>(one);
    CAPTURE(one);
    CAPTURE(four);
    CHECK(ratio > 3.5);
    CHECK(ratio < 4.5);
}

TEST_CASE("expected_work_steps is a lower bound `anytls plan` can refuse a run on") {
    const auto settings = settings_of("example1-high-availability.toml", "ha-service");
    struct Case {
        const char* name;
        TrafficModel model;
        Duration duration;
    };
    for (const Case& c :
         {Case{"idle", TrafficModel::idle, 24h}, Case{"steady", TrafficModel::steady, 6h},
          Case{"bursty", TrafficModel::bursty, 6h}}) {
        CAPTURE(std::string(c.name));
        SimulatorOptions options{.settings = settings, .seed = 4};
        options.traffic.model = c.model;
        options.traffic.streams_per_second = 3;
        options.traffic.burst_size = 200;
        options.traffic.burst_period = 1min;
        PoolSimulator simulator(options);
        const int cycles = static_cast<int>(c.duration / settings.idle_session_check_interval) + 1;
        simulator.run(cycles);
        const std::uint64_t expected = anytls::pool::expected_work_steps(options, c.duration);
        CAPTURE(expected);
        CAPTURE(simulator.work_steps());
        CHECK(expected >= static_cast<std::uint64_t>(cycles));
        // Random arrivals may fall a little short of their mean; the bound may not overstate more.
        CHECK(static_cast<double>(simulator.work_steps()) >= 0.98 * static_cast<double>(expected));
        // With traffic, the streams are most of the work, so the bound is close enough to refuse on.
        if (c.model != TrafficModel::idle) CHECK(simulator.work_steps() <= 4 * expected);
    }
    // An absurd rate saturates instead of wrapping around.
    SimulatorOptions absurd{.settings = settings};
    absurd.traffic.model = TrafficModel::steady;
    absurd.traffic.streams_per_second = 1e300;
    CHECK(anytls::pool::expected_work_steps(absurd, 1000h) ==
          std::numeric_limits<std::uint64_t>::max());
}
