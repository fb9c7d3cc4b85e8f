// The pool's health rules as pure functions (docs/DESIGN.md, "Session health"): creation
// backoff and its cap, the early-death rule, the heartbeat schedule, the retry and replay
// decisions of an open, and which idle session an open takes.
#include <doctest/doctest.h>

#include <vector>

#include "pool/creation_backoff.hpp"
#include "pool/heartbeat_schedule.hpp"
#include "pool/newest_idle.hpp"
#include "pool/open_retry.hpp"
#include "pool_test_support.hpp"

using namespace pool_test;
using anytls::config::PoolSettings;
using anytls::pool::CreationBackoff;

namespace {
PoolSettings backoff_settings(Duration max) {
    PoolSettings settings;
    settings.creation_backoff_max = max;
    return settings;
}
}  // namespace

TEST_CASE("backoff doubles from one second and stops at creation-backoff-max") {
    using anytls::pool::backoff_delay;
    CHECK(backoff_delay(0, 60s) == 0s);
    const std::vector<Duration> expected{1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s, 60s};
    for (int failures = 1; failures <= 9; ++failures) {
        CAPTURE(failures);
        CHECK(backoff_delay(failures, 60s) == expected[static_cast<std::size_t>(failures - 1)]);
    }
    // A cap below one second caps the first hold-back too; no cap means no backoff at all.
    CHECK(backoff_delay(1, 500ms) == 500ms);
    CHECK(backoff_delay(5, 0s) == 0s);
    // A huge count neither overflows nor passes the cap.
    CHECK(backoff_delay(10'000, 5min) == 5min);
}

TEST_CASE("CreationBackoff holds proactive creations back, says so, and resets on success") {
    const PoolSettings settings = backoff_settings(4s);
    CreationBackoff backoff;
    CHECK_FALSE(backoff.holding_back(kT0));
    CHECK(backoff.gate(3, kT0, "p").create == 3);
    CHECK(backoff.gate(3, kT0, "p").log_line.empty());

    backoff.record_failure(kT0, settings);  // 1 s
    backoff.record_failure(kT0, settings);  // 2 s
    backoff.record_failure(kT0, settings);  // 4 s, the cap
    backoff.record_failure(kT0, settings);  // still 4 s
    CHECK(backoff.consecutive_failures() == 4);
    CHECK(backoff.remaining(kT0 + 1s) == 3s);
    const auto gated = backoff.gate(2, kT0 + 1500ms, "edge");
    CHECK(gated.create == 0);
    CHECK(gated.log_line ==
          "[AnyTLS] Proactive creation for edge backing off for 2500ms after 4 failures in a row");
    CHECK(backoff.gate(0, kT0 + 1s, "edge").log_line.empty());  // nothing held back, nothing said
    CHECK(backoff.gate(2, kT0 + 4s, "edge").create == 2);       // the hold-back is over

    backoff.record_success();
    CHECK(backoff.consecutive_failures() == 0);
    backoff.record_failure(kT0 + 10s, settings);
    CHECK(backoff.remaining(kT0 + 10s) == 1s);  // starts again from one second
}

TEST_CASE("a session that dies within five seconds of its creation counts as a failed creation") {
    const PoolSettings settings = backoff_settings(60s);
    CHECK(anytls::pool::is_early_death(kT0, kT0 + 4999ms));
    CHECK_FALSE(anytls::pool::is_early_death(kT0, kT0 + 5s));
    CreationBackoff backoff;
    CHECK_FALSE(backoff.record_session_death(kT0, kT0 + 6s, settings));
    CHECK(backoff.consecutive_failures() == 0);
    CHECK_FALSE(backoff.holding_back(kT0 + 6s));
    CHECK(backoff.record_session_death(kT0 + 10s, kT0 + 12s, settings));
    CHECK(backoff.consecutive_failures() == 1);
    CHECK(backoff.remaining(kT0 + 12s) == 1s);
    CHECK(anytls::pool::creation_failure_line("edge", 3, "refused") ==
          "[AnyTLS] Session creation for edge failed (3 in a row): refused");
}

TEST_CASE("an idle session is probed once quiet for a whole heartbeat interval") {
    using anytls::pool::heartbeat_due;
    CHECK_FALSE(heartbeat_due(kT0, kT0, kT0 + 24s, 25s));
    CHECK(heartbeat_due(kT0, kT0, kT0 + 25s, 25s));
    // An answered probe restarts the wait, and so does a stream ending (idle since).
    CHECK_FALSE(heartbeat_due(kT0, kT0 + 25s, kT0 + 49s, 25s));
    CHECK(heartbeat_due(kT0, kT0 + 25s, kT0 + 50s, 25s));
    CHECK_FALSE(heartbeat_due(kT0 + 40s, kT0 + 25s, kT0 + 60s, 25s));
    CHECK_FALSE(heartbeat_due(kT0, kT0, kT0 + 24h, 0s));  // heartbeats off
}

TEST_CASE("the maintenance loop wakes for whichever comes first, the cycle or a heartbeat") {
    using anytls::pool::maintenance_sleep;
    CHECK(maintenance_sleep(30s, 25s) == 25s);
    CHECK(maintenance_sleep(20s, 25s) == 20s);
    CHECK(maintenance_sleep(30s, 0s) == 30s);   // heartbeats off
    CHECK(maintenance_sleep(-5s, 25s) == 1ms);  // a late cycle: at once, but never a busy loop
    CHECK(maintenance_sleep(100us, 0s) == 1ms);
}

TEST_CASE("an open whose SYN failed retries once, on a fresh session, only from a reused one") {
    using anytls::pool::retry_on_fresh_session;
    using anytls::pool::SynFailure;
    CHECK(retry_on_fresh_session(SynFailure{.warm = true}));
    CHECK_FALSE(
        retry_on_fresh_session(SynFailure{.warm = false}));  // a fresh session failed: no retry
    CHECK_FALSE(retry_on_fresh_session(SynFailure{.warm = true, .already_retried = true}));
    CHECK_FALSE(retry_on_fresh_session(SynFailure{.warm = true, .pool_stopping = true}));
    CHECK_FALSE(retry_on_fresh_session(SynFailure{.warm = true, .deadline_expired = true}));
}

TEST_CASE("a stream failing before its SYNACK is replayed once when nothing of it was heard") {
    using anytls::pool::replay_on_fresh_session;
    using anytls::pool::StreamFailure;
    CHECK(replay_on_fresh_session(StreamFailure{.warm = true, .replayable = true}));
    CHECK(replay_on_fresh_session(StreamFailure{.refused = true, .replayable = true}));
    CHECK_FALSE(replay_on_fresh_session(StreamFailure{.replayable = true}));  // cold, not refused
    CHECK_FALSE(replay_on_fresh_session(StreamFailure{.warm = true}));        // bytes not kept
    CHECK_FALSE(replay_on_fresh_session(
        StreamFailure{.warm = true, .already_replayed = true, .replayable = true}));
    CHECK_FALSE(
        replay_on_fresh_session(StreamFailure{.warm = true, .released = true, .replayable = true}));
    CHECK_FALSE(replay_on_fresh_session(
        StreamFailure{.warm = true, .pool_stopping = true, .replayable = true}));
}

TEST_CASE("an open takes the idle session with the highest seq") {
    const std::vector<SessionInfo> sessions{idle_session(3, kT0, kT0), busy_session(9, kT0),
                                            idle_session(7, kT0, kT0), creating_session(8),
                                            idle_session(5, kT0, kT0)};
    const auto same = [](const SessionInfo& s) -> const SessionInfo& { return s; };
    auto newest = anytls::pool::newest_idle(sessions, same);
    REQUIRE(newest != sessions.end());
    CHECK(newest->seq == 7);
    const std::vector<SessionInfo> none{busy_session(1, kT0), creating_session(2)};
    CHECK(anytls::pool::newest_idle(none, same) == none.end());
}
