// validate(PoolSettings) — shared by the loader and the live C API setter — and the
// "did you mean" helper.
#include <doctest/doctest.h>

#include <array>
#include <string_view>

#include "base/errors.hpp"
#include "config/pool_keys.hpp"
#include "config/pool_settings.hpp"
#include "config/suggest.hpp"

using namespace std::chrono_literals;
using anytls::config::PoolSettings;
using anytls::config::validate;

TEST_SUITE("config") {
    TEST_CASE("validate: defaults and the feature description's settings are valid") {
        CHECK(validate(PoolSettings{}).ok());
        PoolSettings ha;
        ha.ensure_idle_session = 10;
        ha.min_idle_session = 5;
        ha.max_connection_lifetime = 2h;
        ha.connection_lifetime_jitter = 30min;
        ha.idle_session_timeout = 10min;
        CHECK(validate(ha).ok());
    }

    TEST_CASE("validate: each rule, with the key named") {
        struct Row {
            const char* name;
            PoolSettings settings;
            const char* message;
        };
        const Row rows[] = {
            {"negative count", PoolSettings{.ensure_idle_session = -1},
             "ensure-idle-session: expected a count >= 0, got -1"},
            {"count too large", PoolSettings{.min_idle_session_for_age = 100'001},
             "min-idle-session-for-age: expected a count <= 100000, got 100001"},
            {"zero check interval", PoolSettings{.idle_session_check_interval = 0s},
             "idle-session-check-interval: must be greater than 0, got 0s"},
            {"negative idle timeout", PoolSettings{.idle_session_timeout = -1s},
             "idle-session-timeout: must not be negative, got -1s"},
            {"zero heartbeat timeout", PoolSettings{.heartbeat_timeout = 0s},
             "heartbeat-timeout: must be greater than 0, got 0s"},
            {"negative lifetime", PoolSettings{.max_connection_lifetime = -1h},
             "max-connection-lifetime: must not be negative, got -1h"},
            {"jitter equal to lifetime",
             PoolSettings{.max_connection_lifetime = 30min, .connection_lifetime_jitter = 30min},
             "connection-lifetime-jitter (30m) must be less than max-connection-lifetime (30m)"},
            {"jitter above lifetime",
             PoolSettings{.max_connection_lifetime = 1h, .connection_lifetime_jitter = 90min},
             "connection-lifetime-jitter (1h30m) must be less than max-connection-lifetime (1h)"},
            {"client-name with a newline", PoolSettings{.client_name = "a\nb"},
             "client-name: must not contain control characters (such as a newline)"},
        };
        for (const Row& row : rows) {
            CAPTURE(row.name);
            auto result = validate(row.settings);
            REQUIRE_FALSE(result.ok());
            CHECK(result.code() == anytls::errc::config);
            CHECK(result.error().message == row.message);
        }
        // Jitter with rotation off is unused, hence valid.
        CHECK(validate(PoolSettings{.connection_lifetime_jitter = 1h}).ok());
    }

    TEST_CASE("the key table matches PoolSettings") {
        using anytls::config::PoolKeyId;
        const auto keys = anytls::config::pool_keys();
        CHECK(keys.size() == anytls::config::kPoolKeyCount);
        int legacy = 0;
        for (std::size_t i = 0; i < keys.size(); ++i) {
            CHECK(anytls::config::find_pool_key(keys[i].name) == static_cast<PoolKeyId>(i));
            legacy += keys[i].legacy_per_proxy ? 1 : 0;
        }
        CHECK(legacy == 3);  // idle-session-check-interval, idle-session-timeout, min-idle-session
        CHECK_FALSE(anytls::config::find_pool_key("ensure-idle").has_value());

        // get/assign round-trip through the table.
        PoolSettings settings;
        anytls::config::assign_pool_value(settings, PoolKeyId::min_idle_session_for_age,
                                          std::int64_t{7});
        anytls::config::assign_pool_value(settings, PoolKeyId::connection_lifetime_jitter,
                                          anytls::config::Duration{5min});
        anytls::config::assign_pool_value(settings, PoolKeyId::session_reuse, false);
        anytls::config::assign_pool_value(settings, PoolKeyId::client_name, std::string("x/1"));
        CHECK(settings.min_idle_session_for_age == 7);
        CHECK(settings.connection_lifetime_jitter == 5min);
        CHECK_FALSE(settings.session_reuse);
        CHECK(settings.client_name == "x/1");
        CHECK(anytls::config::format_pool_value(anytls::config::get_pool_value(
                  settings, PoolKeyId::min_idle_session_for_age)) == "7");
        CHECK(anytls::config::format_pool_value(anytls::config::get_pool_value(
                  settings, PoolKeyId::connection_lifetime_jitter)) == "5m");
        CHECK(anytls::config::format_pool_value(
                  anytls::config::get_pool_value(settings, PoolKeyId::session_reuse)) == "false");
        CHECK(anytls::config::format_pool_value(
                  anytls::config::get_pool_value(settings, PoolKeyId::client_name)) == "\"x/1\"");
    }

    TEST_CASE("edit distance and suggestions") {
        using anytls::config::closest_name;
        using anytls::config::edit_distance;
        CHECK(edit_distance("", "") == 0);
        CHECK(edit_distance("abc", "") == 3);
        CHECK(edit_distance("kitten", "sitting") == 3);
        CHECK(edit_distance("session-overide", "session-override") == 1);
        CHECK(edit_distance("flaw", "lawn") == 2);
        CHECK(edit_distance("prot", "port") == 1);  // a transposition is one typo
        CHECK(edit_distance("ca", "abc") == 3);     // optimal string alignment, not full Damerau

        constexpr std::array<std::string_view, 4> names{"name", "port", "password", "sni"};
        CHECK(closest_name("pasword", names) == std::optional<std::string_view>("password"));
        CHECK(closest_name("prot", names) == std::optional<std::string_view>("port"));
        CHECK_FALSE(closest_name("zzzzzz", names).has_value());
        CHECK_FALSE(
            closest_name("ip", names).has_value());  // 2 edits from "sni" but too short to guess
    }

}  // TEST_SUITE
