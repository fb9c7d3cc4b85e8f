// Duration parsing and formatting, table-driven (lib/config/duration.hpp).
#include <doctest/doctest.h>

#include <limits>
#include <string>

#include "base/errors.hpp"
#include "config/duration.hpp"

using namespace std::chrono_literals;
using anytls::config::Duration;
using anytls::config::format_duration;
using anytls::config::parse_duration;

TEST_SUITE("config") {
    TEST_CASE("durations: valid strings parse like Go's time.ParseDuration") {
        struct Row {
            const char* text;
            Duration expected;
        };
        const Row rows[] = {
            {"2h", 2h},
            {"30m", 30min},
            {"1h30m", 90min},
            {"500ms", 500ms},
            {"10s", 10s},
            {"1h30m15s", 1h + 30min + 15s},
            {"1.5h", 90min},
            {".5s", 500ms},
            {"1.s", 1s},
            {"0", 0s},
            {"+0", 0s},
            {"-0", 0s},
            {"0s", 0s},
            {"100us", 100us},
            {"100\u00b5s", 100us},  // U+00B5 MICRO SIGN
            {"100\u03bcs", 100us},  // U+03BC GREEK SMALL LETTER MU
            {"42ns", 42ns},
            {"1m0.5s", 60s + 500ms},
            {"2h45m", 2h + 45min},
            {"0.000000001s", 1ns},
            {"1.0000000000000000000001s", 1s},  // extra fraction digits are dropped, as in Go
            {"-2s", -2s},
            {"-1h30m", -(90min)},
            {"+5m", 5min},
            {"2562047h", 2562047h},  // close to the int64 limit (~2562047.8 h)
        };
        for (const Row& row : rows) {
            CAPTURE(row.text);
            auto parsed = parse_duration(row.text);
            REQUIRE(parsed.ok());
            CHECK(*parsed == row.expected);
        }
    }

    TEST_CASE("durations: garbage is refused with a reason") {
        struct Row {
            const char* text;
            const char* message;
        };
        const Row rows[] = {
            {"",
             "invalid duration \"\": expected a number followed by a unit (h, m, s, ms, us or ns)"},
            {"30",
             "invalid duration \"30\": missing unit (expected h, m, s, ms, us or ns after the "
             "number)"},
            {"1h30",
             "invalid duration \"1h30\": missing unit (expected h, m, s, ms, us or ns after the "
             "number)"},
            {"3d", "invalid duration \"3d\": unknown unit \"d\" (expected h, m, s, ms, us or ns)"},
            {"10 s",
             "invalid duration \"10 s\": unknown unit \" s\" (expected h, m, s, ms, us or ns)"},
            {"10S",
             "invalid duration \"10S\": unknown unit \"S\" (expected h, m, s, ms, us or ns)"},
            {"h",
             "invalid duration \"h\": expected a number followed by a unit (h, m, s, ms, us or "
             "ns)"},
            {".s",
             "invalid duration \".s\": expected a number followed by a unit (h, m, s, ms, us or "
             "ns)"},
            {"-",
             "invalid duration \"-\": expected a number followed by a unit (h, m, s, ms, us or "
             "ns)"},
            {"abc",
             "invalid duration \"abc\": expected a number followed by a unit (h, m, s, ms, us or "
             "ns)"},
            {"9999999999h", "invalid duration \"9999999999h\": out of range"},
            {"2562048h", "invalid duration \"2562048h\": out of range"},
            {"99999999999999999999s", "invalid duration \"99999999999999999999s\": out of range"},
        };
        for (const Row& row : rows) {
            CAPTURE(row.text);
            auto parsed = parse_duration(row.text);
            REQUIRE_FALSE(parsed.ok());
            CHECK(parsed.code() == anytls::errc::config);
            CHECK(parsed.error().message == row.message);
        }
    }

    TEST_CASE("durations: integer seconds") {
        CHECK(anytls::config::duration_from_seconds(3600).value() == 1h);
        CHECK(anytls::config::duration_from_seconds(0).value() == 0s);
        CHECK(anytls::config::duration_from_seconds(-5).value() == -5s);
        auto huge = anytls::config::duration_from_seconds(10'000'000'000'000);
        REQUIRE_FALSE(huge.ok());
        CHECK(huge.error().message == "10000000000000 seconds is out of range for a duration");
    }

    TEST_CASE("durations: formatting drops zero components and round-trips") {
        struct Row {
            Duration value;
            const char* text;
        };
        const Row rows[] = {
            {0s, "0s"},
            {90min, "1h30m"},
            {2h, "2h"},
            {30min, "30m"},
            {500ms, "500ms"},
            {1500ms, "1s500ms"},
            {1h + 30min + 15s, "1h30m15s"},
            {1h + 1ns, "1h1ns"},
            {-2s, "-2s"},
            {36h, "36h"},
            {1us, "1us"},
        };
        for (const Row& row : rows) {
            CAPTURE(row.text);
            CHECK(format_duration(row.value) == row.text);
            CHECK(parse_duration(format_duration(row.value)).value() == row.value);
        }
        const Duration extreme{std::numeric_limits<Duration::rep>::min()};
        CHECK(parse_duration(format_duration(extreme)).value() == extreme);
    }

}  // TEST_SUITE
