// lib/log: level filtering, the replaceable sink, and trace lines compiling out.
#include <doctest/doctest.h>

#include <string>
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

}  // TEST_SUITE
