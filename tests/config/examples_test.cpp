// Every configuration example of the feature description (mihomo's anytls-session-management.md),
// written as TOML under tests/data/, resolves to the values the description promises.
#include <doctest/doctest.h>

#include "base/errors.hpp"
#include "config/config.hpp"
#include "config_test_support.hpp"

using namespace std::chrono_literals;
using anytls::config::LogLevel;
using anytls::config::PoolKeyId;
using anytls::config::PoolSettings;
using anytls::config::Source;
using config_test::load_data;
using config_test::proxy_named;

TEST_SUITE("config") {
    TEST_CASE("example 1: high availability") {
        const auto config = load_data("example1-high-availability.toml");
        REQUIRE(config.proxies.size() == 1);
        const auto& proxy = config.proxies[0];
        CHECK(proxy.name == "ha-service");
        CHECK(proxy.server == "ha.example.com");
        CHECK(proxy.port == 443);
        CHECK(proxy.password == "secret");
        PoolSettings expected;
        expected.ensure_idle_session = 10;
        expected.min_idle_session = 5;
        expected.max_connection_lifetime = 2h;
        expected.connection_lifetime_jitter = 30min;
        expected.idle_session_timeout = 10min;
        expected.idle_session_check_interval = 30s;
        expected.client_name = "";  // nothing that names this library (proto/settings.hpp)
        CHECK(proxy.pool == expected);
        CHECK(config.global_pool == expected);
        CHECK(proxy.pool_sources[PoolKeyId::ensure_idle_session] == Source::global);
        CHECK(proxy.pool_sources[PoolKeyId::ensure_idle_session_create_rate] ==
              Source::default_value);
        CHECK(config.log_level == LogLevel::info);
        CHECK(config.warnings.empty());
    }

    TEST_CASE("example 2: rate-limited destination") {
        const auto config = load_data("example2-rate-limited.toml");
        const auto& pool = proxy_named(config, "rate-limited").pool;
        CHECK(pool.ensure_idle_session == 5);
        CHECK(pool.ensure_idle_session_create_rate == 1);
        CHECK(pool.idle_session_check_interval == 60s);
        // Everything else keeps its default.
        CHECK(pool.min_idle_session == 0);
        CHECK(pool.idle_session_timeout == 30s);
        CHECK(pool.max_connection_lifetime == 0s);
    }

    TEST_CASE("example 3: security-sensitive connection") {
        const auto config = load_data("example3-security-sensitive.toml");
        const auto& pool = proxy_named(config, "secure-service").pool;
        CHECK(pool.max_connection_lifetime == 30min);
        CHECK(pool.connection_lifetime_jitter == 10min);
        CHECK(pool.min_idle_session_for_age == 2);
        CHECK(pool.idle_session_timeout == 5min);
        CHECK(pool.ensure_idle_session == 0);
        CHECK(pool.idle_session_check_interval == 30s);
    }

    TEST_CASE("example 4: subscription with mixed requirements") {
        const auto config = load_data("example4-mixed.toml");
        REQUIRE(config.proxies.size() == 3);
        CHECK(config.proxies[0].name == "standard-1");
        CHECK(config.proxies[1].name == "premium-node");
        CHECK(config.proxies[2].name == "limited-node");

        const auto& standard = proxy_named(config, "standard-1").pool;
        CHECK(standard.ensure_idle_session == 5);
        CHECK(standard.ensure_idle_session_create_rate == 0);

        const auto& premium = proxy_named(config, "premium-node");
        CHECK(premium.pool.ensure_idle_session == 20);
        CHECK(premium.pool.ensure_idle_session_create_rate == 5);
        CHECK(premium.pool_sources[PoolKeyId::ensure_idle_session] == Source::session_override);

        const auto& limited = proxy_named(config, "limited-node").pool;
        CHECK(limited.ensure_idle_session == 3);
        CHECK(limited.ensure_idle_session_create_rate == 1);

        // The global lifetime and idle timeout reach every proxy.
        for (const auto& proxy : config.proxies) {
            CAPTURE(proxy.name);
            CHECK(proxy.pool.max_connection_lifetime == 2h);
            CHECK(proxy.pool.idle_session_timeout == 10min);
            CHECK(proxy.pool_sources[PoolKeyId::max_connection_lifetime] == Source::global);
        }
    }

    TEST_CASE("global configuration with per-proxy overrides") {
        const auto config = load_data("global-and-overrides.toml");
        CHECK(config.log_level == LogLevel::debug);

        const auto& high = proxy_named(config, "high-availability-proxy").pool;
        CHECK(high.ensure_idle_session == 20);
        CHECK(high.max_connection_lifetime == 1h);  // integer seconds
        CHECK(high.connection_lifetime_jitter == 10min);
        CHECK(high.ensure_idle_session_create_rate == 3);  // from global
        CHECK(high.min_idle_session == 5);
        CHECK(high.min_idle_session_for_age == 2);

        const auto& limited = proxy_named(config, "rate-limited-proxy").pool;
        CHECK(limited.ensure_idle_session == 5);
        CHECK(limited.ensure_idle_session_create_rate == 1);
        CHECK(limited.max_connection_lifetime == 2h);  // from global
        CHECK(limited.connection_lifetime_jitter == 30min);
        CHECK(limited.idle_session_check_interval == 30s);
    }

    TEST_CASE("backward compatibility: legacy per-proxy fields in seconds") {
        const auto config = load_data("legacy-proxy.toml");
        const auto& proxy = proxy_named(config, "legacy-proxy");
        CHECK(proxy.pool.idle_session_check_interval == 30s);
        CHECK(proxy.pool.idle_session_timeout == 10min);
        CHECK(proxy.pool.min_idle_session == 5);
        CHECK(proxy.pool_sources[PoolKeyId::min_idle_session] == Source::legacy_per_proxy);
        CHECK(proxy.pool_sources[PoolKeyId::ensure_idle_session] == Source::default_value);
        CHECK(config.global_pool == PoolSettings{});
    }

    TEST_CASE("migration guide: the legacy values moved to the global section mean the same") {
        const auto before = proxy_named(load_data("legacy-proxy.toml"), "legacy-proxy").pool;
        const auto after = proxy_named(load_data("migration-after.toml"), "proxy1").pool;
        CHECK(after.idle_session_check_interval == before.idle_session_check_interval);
        CHECK(after.idle_session_timeout == before.idle_session_timeout);
        CHECK(after.min_idle_session == before.min_idle_session);
        CHECK(after.ensure_idle_session == 10);
        CHECK(after.max_connection_lifetime == 2h);
    }

    TEST_CASE("the example of docs/DESIGN.md, \"Configuration\"") {
        const auto config = load_data("design-example.toml");
        const auto& pool = proxy_named(config, "ha-service").pool;
        CHECK(pool.ensure_idle_session == 20);
        CHECK(pool.max_connection_lifetime == 1h);
        CHECK(config.global_pool.ensure_idle_session == 10);
        CHECK(config.global_pool.max_connection_lifetime == 2h);
    }

    TEST_CASE("the short snippets of the feature description (best practices, troubleshooting)") {
        struct Row {
            const char* name;
            const char* toml;
            PoolSettings expected;
        };
        const Row rows[] = {
            {"start conservative",
             "[experimental.anytls-session-management]\n"
             "ensure-idle-session = 5\nmax-connection-lifetime = "
             "\"2h\"\nconnection-lifetime-jitter = \"30m\"\n",
             PoolSettings{.ensure_idle_session = 5,
                          .max_connection_lifetime = 2h,
                          .connection_lifetime_jitter = 30min}},
            {"no sessions available",
             "[experimental.anytls-session-management]\n"
             "ensure-idle-session = 15\nensure-idle-session-create-rate = 5\n",
             PoolSettings{.ensure_idle_session = 15, .ensure_idle_session_create_rate = 5}},
            {"too many connections",
             "[experimental.anytls-session-management]\n"
             "ensure-idle-session = 5\nensure-idle-session-create-rate = 1\n",
             PoolSettings{.ensure_idle_session = 5, .ensure_idle_session_create_rate = 1}},
            {"sessions not rotating",
             "[experimental.anytls-session-management]\n"
             "max-connection-lifetime = \"2h\"\nconnection-lifetime-jitter = \"30m\"\n",
             PoolSettings{.max_connection_lifetime = 2h, .connection_lifetime_jitter = 30min}},
        };
        for (const Row& row : rows) {
            CAPTURE(row.name);
            auto loaded = anytls::config::load_config(row.toml);
            REQUIRE(loaded.ok());
            CHECK(loaded->global_pool == row.expected);
        }
        // The "periodic latency spikes" fix adds the jitter alone. With rotation off (no lifetime)
        // the jitter is unused, so it loads rather than failing jitter < lifetime.
        auto jitter_only = anytls::config::load_config(
            "[experimental.anytls-session-management]\nconnection-lifetime-jitter = \"30m\"\n");
        REQUIRE(jitter_only.ok());
        CHECK(jitter_only->global_pool.connection_lifetime_jitter == 30min);
    }

}  // TEST_SUITE
