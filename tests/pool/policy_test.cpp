// plan_cleanup() and on_stream_end() on hand-built snapshots: each step of docs/DESIGN.md,
// "The cleanup cycle", the counts and the exact debug lines.
#include <doctest/doctest.h>

#include <algorithm>
#include <iterator>
#include <random>
#include <set>

#include "pool/policy.hpp"
#include "pool_test_support.hpp"

using namespace pool_test;
using anytls::config::PoolSettings;
using anytls::pool::CloseReason;
using anytls::pool::on_stream_end;
using anytls::pool::plan_cleanup;
using anytls::pool::SessionToClose;
using anytls::pool::StreamEndAction;

namespace {

std::vector<std::uint64_t> closed_for(const anytls::pool::Plan& plan, CloseReason reason) {
    std::vector<std::uint64_t> out;
    for (const SessionToClose& victim : plan.close)
        if (victim.reason == reason) out.push_back(victim.seq);
    return out;
}

}  // namespace

TEST_SUITE("pool") {
    TEST_CASE("idle cleanup: the feature description's line, oldest closed, newest protected") {
        PoolSettings settings;
        settings.min_idle_session = 5;
        settings.idle_session_timeout = 10min;
        const TimePoint now = kT0 + 1h;
        std::vector<SessionInfo> sessions;
        for (std::uint64_t seq = 1; seq <= 12; ++seq)
            sessions.push_back(idle_session(seq, kT0, kT0 + 20min));

        const auto plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.idle.found == 12);
        CHECK(plan.idle.closing == 7);
        CHECK(plan.idle.kept_protected == 5);
        CHECK(closed_for(plan, CloseReason::idle) ==
              std::vector<std::uint64_t>{7, 6, 5, 4, 3, 2, 1});
        REQUIRE(plan.log_lines.size() == 1);
        CHECK("[DEBUG] " + plan.log_lines[0] ==
              "[DEBUG] [AnyTLS] Idle cleanup: found 12 idle sessions, closing 7 (keeping 5 "
              "protected)");
        CHECK(plan.create() == 0);
    }

    TEST_CASE("idle cleanup: the floor is max(min-idle-session, ensure-idle-session)") {
        std::vector<SessionInfo> sessions;
        for (std::uint64_t seq = 1; seq <= 8; ++seq)
            sessions.push_back(idle_session(seq, kT0, kT0));
        const TimePoint now = kT0 + 1h;

        PoolSettings settings;
        settings.min_idle_session = 2;
        settings.ensure_idle_session = 6;
        auto plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.idle.kept_protected == 6);
        CHECK(plan.idle.closing == 2);

        settings.min_idle_session = 7;
        plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.idle.kept_protected == 7);
        CHECK(plan.idle.closing == 1);

        settings = PoolSettings{};
        plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.idle.kept_protected == 0);
        CHECK(plan.idle.closing == 8);
    }

    TEST_CASE(
        "idle cleanup: fresh sessions count toward the floor as the walk goes newest to oldest") {
        PoolSettings settings;
        settings.min_idle_session = 2;
        settings.idle_session_timeout = 30s;
        const TimePoint now = kT0 + 10min;
        const std::vector<SessionInfo> sessions{
            idle_session(1, kT0, kT0),        // timed out, oldest
            idle_session(2, kT0, now - 10s),  // fresh
            idle_session(3, kT0, kT0),        // timed out, newest
            idle_session(4, kT0, now - 30s),  // exactly the timeout: not past it, kept
        };
        // Walk: 4 fresh (kept 1); 3 timed out, kept 1 < 2 so protected (kept 2); 2 fresh (kept 3);
        // 1 timed out, kept 3 >= 2 so closed.
        const auto plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.idle.found == 2);
        CHECK(plan.idle.kept_protected == 1);
        CHECK(plan.idle.closing == 1);
        CHECK(closed_for(plan, CloseReason::idle) == std::vector<std::uint64_t>{1});
        CHECK(plan.log_lines ==
              std::vector<std::string>{
                  "[AnyTLS] Idle cleanup: found 2 idle sessions, closing 1 (keeping 1 protected)"});
    }

    TEST_CASE(
        "age cleanup: the feature description's line, oldest first, min-idle-session-for-age "
        "kept") {
        PoolSettings settings;
        settings.max_connection_lifetime = 30min;
        settings.connection_lifetime_jitter = 10min;
        settings.min_idle_session_for_age = 2;
        settings.idle_session_timeout = 5min;
        const TimePoint now = kT0 + 2h;
        // Five idle, not timed out, all past their lifetimes; created at different times.
        const std::vector<SessionInfo> sessions{
            idle_session(10, kT0 + 30min, now - 1min, 25min),
            idle_session(11, kT0 + 10min, now - 1min, 25min),
            idle_session(12, kT0 + 50min, now - 1min, 25min),
            idle_session(13, kT0 + 20min, now - 1min, 25min),
            idle_session(14, kT0 + 40min, now - 1min, 25min),
        };
        const auto plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.idle.found == 0);
        CHECK(plan.age.found == 5);
        CHECK(plan.age.closing == 3);
        CHECK(plan.age.kept_protected == 2);
        CHECK(closed_for(plan, CloseReason::age) ==
              std::vector<std::uint64_t>{11, 13, 10});  // oldest first
        REQUIRE(plan.log_lines.size() == 1);
        CHECK("[DEBUG] " + plan.log_lines[0] ==
              "[DEBUG] [AnyTLS] Age cleanup: closing 3 aged sessions (keeping 2 protected)");
    }

    TEST_CASE("age cleanup: young idle sessions count toward min-idle-session-for-age") {
        PoolSettings settings;
        settings.max_connection_lifetime = 1h;
        settings.min_idle_session_for_age = 2;
        settings.idle_session_timeout = 10min;
        const TimePoint now = kT0 + 3h;
        const std::vector<SessionInfo> sessions{
            idle_session(1, kT0, now - 1min, 1h),          // aged
            idle_session(2, kT0 + 10min, now - 1min, 1h),  // aged
            idle_session(3, now - 5min, now - 1min, 1h),   // young
            idle_session(4, now - 4min, now - 1min, 1h),   // young
        };
        const auto plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.age.closing == 2);
        CHECK(plan.age.kept_protected == 0);
        CHECK(plan.proactive.idle == 2);
    }

    TEST_CASE("age cleanup: a session closed as idle is not counted again; lifetime 0 never ages") {
        PoolSettings settings;
        settings.min_idle_session = 1;
        settings.idle_session_timeout = 1min;
        settings.max_connection_lifetime = 30min;
        const TimePoint now = kT0 + 2h;
        std::vector<SessionInfo> sessions;
        for (std::uint64_t seq = 1; seq <= 4; ++seq)
            sessions.push_back(idle_session(seq, kT0, kT0, 30min));
        sessions.push_back(idle_session(5, kT0, now, Duration{0}));  // no age limit, fresh

        const auto plan = plan_cleanup(sessions, settings, now);
        // Step 1 keeps 5 (fresh) and closes 1..4 (floor 1 already met by 5).
        CHECK(plan.idle.found == 4);
        CHECK(plan.idle.closing == 4);
        CHECK(plan.idle.kept_protected == 0);
        // Step 2 sees only session 5, which has no lifetime.
        CHECK(plan.age.found == 0);
        CHECK(plan.age.closing == 0);
        CHECK(plan.close.size() == 4);

        // With a floor of 2, session 4 is protected by step 1, then closed by step 2.
        settings.min_idle_session = 2;
        const auto second = plan_cleanup(sessions, settings, now);
        CHECK(second.idle.kept_protected == 1);
        CHECK(second.idle.closing == 3);
        CHECK(second.age.found == 1);
        CHECK(second.age.closing == 1);
        CHECK(closed_for(second, CloseReason::age) == std::vector<std::uint64_t>{4});
        CHECK(second.log_lines ==
              std::vector<std::string>{
                  "[AnyTLS] Idle cleanup: found 4 idle sessions, closing 3 (keeping 1 protected)",
                  "[AnyTLS] Age cleanup: closing 1 aged sessions (keeping 0 protected)"});
    }

    TEST_CASE("busy sessions are never closed by cleanup") {
        PoolSettings settings;
        settings.max_connection_lifetime = 10min;
        const TimePoint now = kT0 + 5h;
        const std::vector<SessionInfo> sessions{busy_session(1, kT0, 10min),
                                                busy_session(2, kT0, 10min)};
        const auto plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.close.empty());
        CHECK(plan.age.found == 0);
        CHECK(plan.log_lines.empty());
    }

    TEST_CASE("proactive: the feature description's line, rate limit, in-flight creations count") {
        PoolSettings settings;
        settings.ensure_idle_session = 10;
        settings.ensure_idle_session_create_rate = 3;
        const TimePoint now = kT0 + 1min;
        std::vector<SessionInfo> sessions{idle_session(1, kT0, now), idle_session(2, kT0, now),
                                          idle_session(3, kT0, now), busy_session(4, kT0)};
        auto plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.proactive.current == 3);  // busy sessions are not part of the idle pool
        CHECK(plan.proactive.target == 10);
        CHECK(plan.create() == 3);
        REQUIRE(plan.log_lines.size() == 1);
        CHECK("[DEBUG] " + plan.log_lines[0] ==
              "[DEBUG] [AnyTLS] Proactive pool maintenance: current=3, target=10, creating 3 "
              "sessions");

        // Five creations already in flight: only 2 more, so the pool lands exactly on target.
        for (std::uint64_t seq = 5; seq <= 9; ++seq) sessions.push_back(creating_session(seq));
        plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.proactive.idle == 3);
        CHECK(plan.proactive.in_flight == 5);
        CHECK(plan.proactive.current == 8);
        CHECK(plan.create() == 2);
        CHECK(
            plan.log_lines ==
            std::vector<std::string>{
                "[AnyTLS] Proactive pool maintenance: current=8, target=10, creating 2 sessions"});

        // At or above target: nothing, and no line.
        for (std::uint64_t seq = 10; seq <= 12; ++seq) sessions.push_back(creating_session(seq));
        plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.create() == 0);
        CHECK(plan.log_lines.empty());

        // Rate 0 means no limit.
        settings.ensure_idle_session_create_rate = 0;
        plan = plan_cleanup(std::vector<SessionInfo>{}, settings, now);
        CHECK(plan.create() == 10);
        CHECK(
            plan.log_lines ==
            std::vector<std::string>{
                "[AnyTLS] Proactive pool maintenance: current=0, target=10, creating 10 sessions"});
    }

    TEST_CASE("proactive creation refills what the same cycle closed") {
        PoolSettings settings;
        settings.ensure_idle_session = 4;
        settings.max_connection_lifetime = 1h;
        const TimePoint now = kT0 + 2h;
        std::vector<SessionInfo> sessions;
        for (std::uint64_t seq = 1; seq <= 4; ++seq)
            sessions.push_back(idle_session(seq, kT0 + seq * 1min, now, 1h));
        const auto plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.age.closing == 4);
        CHECK(plan.proactive.current == 0);
        CHECK(plan.create() == 4);
        CHECK(plan.log_lines.size() == 2);
    }

    TEST_CASE("a quiet cycle logs nothing, even with protected sessions") {
        PoolSettings settings;
        settings.ensure_idle_session = 3;
        settings.idle_session_timeout = 1min;
        const TimePoint now = kT0 + 1h;
        const std::vector<SessionInfo> sessions{
            idle_session(1, kT0, kT0), idle_session(2, kT0, kT0), idle_session(3, kT0, kT0)};
        const auto plan = plan_cleanup(sessions, settings, now);
        CHECK(plan.idle.found == 3);
        CHECK(plan.idle.kept_protected == 3);
        CHECK(plan.empty());
        CHECK(plan.log_lines.empty());
    }

    TEST_CASE(
        "on_stream_end: aged busy sessions close under min-idle-session-for-age; session-reuse") {
        PoolSettings settings;
        settings.max_connection_lifetime = 30min;
        settings.min_idle_session_for_age = 2;
        const SessionInfo aged = busy_session(7, kT0, 30min);
        const TimePoint late = kT0 + 31min;

        auto decision = on_stream_end(aged, settings, 2, late);
        CHECK(decision.action == StreamEndAction::close_aged);
        CHECK_FALSE(decision.age_protected);

        decision = on_stream_end(aged, settings, 1, late);  // closing would leave 1 < 2 idle
        CHECK(decision.action == StreamEndAction::return_to_idle);
        CHECK(decision.age_protected);

        decision =
            on_stream_end(aged, settings, 0, kT0 + 30min);  // exactly the lifetime: not past it
        CHECK(decision.action == StreamEndAction::return_to_idle);
        CHECK_FALSE(decision.age_protected);

        settings.min_idle_session_for_age = 0;
        CHECK(on_stream_end(aged, settings, 0, late).action == StreamEndAction::close_aged);
        CHECK(on_stream_end(busy_session(8, kT0), settings, 0, kT0 + 100h).action ==
              StreamEndAction::return_to_idle);

        settings.session_reuse = false;
        CHECK(on_stream_end(busy_session(9, kT0), settings, 5, kT0 + 1s).action ==
              StreamEndAction::close_no_reuse);
    }

    TEST_CASE("random snapshots: the invariants of every step hold") {
        std::mt19937_64 engine(20260112);
        auto pick = [&](int low, int high) {
            return std::uniform_int_distribution<int>(low, high)(engine);
        };
        for (int round = 0; round < 2000; ++round) {
            PoolSettings settings;
            settings.ensure_idle_session = pick(0, 12);
            settings.ensure_idle_session_create_rate = pick(0, 4);
            settings.min_idle_session = pick(0, 8);
            settings.min_idle_session_for_age = pick(0, 6);
            settings.idle_session_timeout = std::chrono::minutes(pick(1, 10));
            const TimePoint now = kT0 + 10h;

            std::vector<SessionInfo> sessions;
            const int count = pick(0, 25);
            for (int i = 0; i < count; ++i) {
                const auto seq = static_cast<std::uint64_t>(i + 1);
                const TimePoint created = now - std::chrono::minutes(pick(0, 300));
                const Duration lifetime =
                    pick(0, 3) == 0 ? Duration{0} : Duration{std::chrono::minutes(pick(5, 200))};
                switch (pick(0, 5)) {
                    case 0:
                        sessions.push_back(creating_session(seq));
                        break;
                    case 1:
                        sessions.push_back(busy_session(seq, created, lifetime));
                        break;
                    default:
                        sessions.push_back(idle_session(
                            seq, created, now - std::chrono::minutes(pick(0, 20)), lifetime));
                }
            }
            std::shuffle(sessions.begin(), sessions.end(), engine);
            CAPTURE(round);

            const auto plan = plan_cleanup(sessions, settings, now);
            int idle_total = 0, in_flight = 0;
            std::set<std::uint64_t> idle_seqs;
            for (const auto& s : sessions) {
                if (s.state == PoolSessionState::idle) {
                    ++idle_total;
                    idle_seqs.insert(s.seq);
                }
                if (s.state == PoolSessionState::creating) ++in_flight;
            }
            // Only idle sessions are closed, each at most once.
            std::set<std::uint64_t> closed;
            for (const auto& victim : plan.close) {
                CHECK(idle_seqs.count(victim.seq) == 1);
                CHECK(closed.insert(victim.seq).second);
            }
            // Step 1 counts add up, and the floor holds.
            CHECK(plan.idle.found == plan.idle.closing + plan.idle.kept_protected);
            const int after_idle = idle_total - plan.idle.closing;
            const int floor = std::max(settings.min_idle_session, settings.ensure_idle_session);
            CHECK(after_idle >= std::min(floor, idle_total));
            // Step 2 never goes below min-idle-session-for-age (unless step 1 already did).
            CHECK(plan.age.found == plan.age.closing + plan.age.kept_protected);
            const int after_age = after_idle - plan.age.closing;
            CHECK(after_age >= std::min(settings.min_idle_session_for_age, after_idle));
            // Step 3 never overshoots and respects the rate.
            CHECK(plan.proactive.current == after_age + in_flight);
            CHECK(plan.create() >= 0);
            if (plan.create() > 0)
                CHECK(plan.proactive.current + plan.create() <= settings.ensure_idle_session);
            if (settings.ensure_idle_session_create_rate > 0)
                CHECK(plan.create() <= settings.ensure_idle_session_create_rate);
            if (settings.ensure_idle_session_create_rate == 0)
                CHECK(plan.proactive.current + plan.create() >= settings.ensure_idle_session);
            // A line exactly when the step did something.
            const std::size_t lines =
                (plan.idle.closing > 0) + (plan.age.closing > 0) + (plan.create() > 0);
            CHECK(plan.log_lines.size() == lines);
            // Busy sessions play no part in the plan, so the simulator may leave them out of its input.
            std::vector<SessionInfo> without_busy;
            std::copy_if(sessions.begin(), sessions.end(), std::back_inserter(without_busy),
                         [](const SessionInfo& s) { return s.state != PoolSessionState::busy; });
            const auto same = plan_cleanup(without_busy, settings, now);
            CHECK(same.close == plan.close);
            CHECK(same.log_lines == plan.log_lines);
            CHECK(same.proactive.current == plan.proactive.current);
            CHECK(same.create() == plan.create());
            CHECK(same.idle.kept_protected == plan.idle.kept_protected);
            CHECK(same.age.kept_protected == plan.age.kept_protected);
        }
    }

}  // TEST_SUITE
