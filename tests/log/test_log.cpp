// lib/log: level filtering, the replaceable sink, and trace lines compiling out.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "log/log.hpp"

using namespace anytls;

namespace {
struct Captured {
    std::vector<std::pair<log::Level, std::string>> lines;
};
int evaluations = 0;
[[maybe_unused]] int counted() { return ++evaluations; }
}  // namespace

TEST_SUITE("log") {
    TEST_CASE("a replaced sink receives formatted lines at or above the level") {
        Captured cap;
        log::set_sink(
            [&](log::Level l, std::string_view m) { cap.lines.emplace_back(l, std::string(m)); });
        log::set_level(log::Level::info);
        log::debug("hidden {}", 1);
        log::info("shown {} {}", 2, "x");
        log::error("bad: {}", 3.5);
        log::set_level(log::Level::debug);
        log::debug("now {}", "visible");
        log::set_sink({});
        log::info("to stderr, not captured");
        REQUIRE(cap.lines.size() == 3);
        CHECK(cap.lines[0].first == log::Level::info);
        CHECK(cap.lines[0].second == "shown 2 x");
        CHECK(cap.lines[1].second == "bad: 3.5");
        CHECK(cap.lines[2].second == "now visible");
        log::set_level(log::Level::info);
    }

    TEST_CASE("level names; the off threshold writes nothing, not even errors") {
        CHECK(log::level_name(log::Level::debug) == "DEBUG");
        Captured cap;
        log::set_sink(
            [&](log::Level l, std::string_view m) { cap.lines.emplace_back(l, std::string(m)); });
        log::set_level(log::Level::off);
        log::error("not written");
        CHECK(cap.lines.empty());
        log::set_level(log::Level::error);
        log::error("written");
        CHECK(cap.lines.size() == 1);
        log::set_sink({});
        log::set_level(log::Level::info);
    }

    TEST_CASE("trace lines compile out unless -Dtrace_log=true: arguments are not evaluated") {
        Captured cap;
        log::set_sink(
            [&](log::Level l, std::string_view m) { cap.lines.emplace_back(l, std::string(m)); });
        log::set_level(log::Level::trace);
        evaluations = 0;
        ANYTLS_TRACE("value {}", counted());
#if ANYTLS_LOG_TRACE_ENABLED
        CHECK(evaluations == 1);
        CHECK(cap.lines.size() == 1);
#else
        CHECK(evaluations == 0);
        CHECK(cap.lines.empty());
#endif
        log::set_sink({});
        log::set_level(log::Level::info);
    }

    TEST_CASE("a Logger installed on a thread takes that thread's lines, at its own level") {
        Captured process, own;
        log::set_sink([&](log::Level l, std::string_view m) {
            process.lines.emplace_back(l, std::string(m));
        });
        log::set_level(log::Level::warn);
        log::Logger logger(log::Level::debug);
        logger.set_sink(
            [&](log::Level l, std::string_view m) { own.lines.emplace_back(l, std::string(m)); });
        std::thread([&] {
            log::use_on_this_thread(&logger);
            log::debug("owned {}", 1);
            log::use_on_this_thread(nullptr);
            log::debug("process debug, filtered");
            log::warn("process {}", 2);
        }).join();
        log::debug("this thread has no logger: filtered");
        {
            const log::ScopedLogger scope(logger);
            log::info("scoped");
        }
        log::info("filtered again");
        REQUIRE(own.lines.size() == 2);
        CHECK(own.lines[0].second == "owned 1");
        CHECK(own.lines[1].second == "scoped");
        REQUIRE(process.lines.size() == 1);
        CHECK(process.lines[0].second == "process 2");

        // Without a sink of its own, a Logger's lines reach the process sink at its own level.
        logger.set_sink({});
        {
            const log::ScopedLogger scope(logger);
            log::debug("to the process sink");
        }
        REQUIRE(process.lines.size() == 2);
        CHECK(process.lines[1].second == "to the process sink");
        log::set_sink({});
        log::set_level(log::Level::info);
    }

    // Kept last: the override stays on for the rest of the process.
    TEST_CASE("once the process level overrides configured levels, only a level set later wins") {
        log::Logger configured(log::Level::debug), chosen(log::Level::debug);
        chosen.set_level(log::Level::error);
        log::set_level(log::Level::warn);
        CHECK(configured.level() == log::Level::debug);
        log::let_process_level_override_configured();
        CHECK(configured.level() == log::Level::warn);
        CHECK(chosen.level() == log::Level::error);
        log::set_level(log::Level::trace);
        CHECK(configured.level() == log::Level::trace);
        log::set_level(log::Level::info);
    }

}  // TEST_SUITE
