// The priority merge, key by key (docs/DESIGN.md, "Configuration"): session-override, then the
// legacy per-proxy keys, then the global section, then defaults.
#include <doctest/doctest.h>

#include "config/config.hpp"
#include "config/merge.hpp"
#include "config_test_support.hpp"

using namespace std::chrono_literals;
using anytls::config::PoolKeyId;
using anytls::config::PoolLayer;
using anytls::config::PoolSettings;
using anytls::config::Source;
using config_test::load_data;
using config_test::load_text;
using config_test::proxy_named;

TEST_SUITE("config") {
    TEST_CASE("no pool keys anywhere: every default") {
        const auto config = load_text(R"(
[[proxies]]
name = "plain"
type = "anytls"
server = "203.0.113.7"
port = 8443
password = "pw"
)");
        const auto& proxy = proxy_named(config, "plain");
        const PoolSettings& pool = proxy.pool;
        CHECK(pool.ensure_idle_session == 0);
        CHECK(pool.ensure_idle_session_create_rate == 0);
        CHECK(pool.min_idle_session == 0);
        CHECK(pool.min_idle_session_for_age == 0);
        CHECK(pool.max_connection_lifetime == 0s);
        CHECK(pool.connection_lifetime_jitter == 0s);
        CHECK(pool.idle_session_timeout == 30s);
        CHECK(pool.idle_session_check_interval == 30s);
        CHECK(pool.heartbeat_interval == 25s);
        CHECK(pool.heartbeat_timeout == 10s);
        CHECK(pool.tcp_keepalive == 15s);
        CHECK(pool.session_reuse);
        CHECK(pool.client_name.empty());  // sent as "client=", as mihomo and sing-box send
        CHECK(pool.creation_backoff_max == 60s);
        for (auto source : proxy.pool_sources.of) CHECK(source == Source::default_value);
        CHECK(proxy.sni.empty());
        CHECK_FALSE(proxy.skip_cert_verify);
        CHECK(proxy.alpn.empty());
        CHECK(proxy.ca_file.empty());
        CHECK(proxy.port == 8443);
    }

    TEST_CASE("client-name default is empty") {
        auto loaded = anytls::config::load_config("");
        REQUIRE(loaded.ok());
        CHECK(loaded->global_pool.client_name.empty());
        CHECK(loaded->proxies.empty());
    }

    TEST_CASE("ech-opts: read as mihomo writes it, and enable = true refused, not ignored") {
        const std::string proxy =
            "[[proxies]]\nname = \"m\"\ntype = \"anytls\"\nserver = \"h\"\nport = 443\n"
            "password = \"pw\"\n";
        CHECK(load_text(proxy + "ech-opts = { enable = false, config = \"AEX+DQBB\", "
                                "query-server-name = \"cloudflare-ech.com\" }\n")
                  .proxies.size() == 1);
        CHECK(load_text(proxy + "[proxies.ech-opts]\n").proxies.size() == 1);
        CHECK(config_test::load_error(proxy + "[proxies.ech-opts]\nenable = true\n") ==
              "proxy \"m\": key \"ech-opts.enable\" (line 8): ECH is not available: the wolfSSL "
              "this library is built on has none, and none released interoperates with Go's "
              "(docs/FINGERPRINT.md, \"ECH\"); set enable = false or remove ech-opts");
        CHECK(config_test::load_error(proxy + "ech-opts = true\n") ==
              "proxy \"m\": key \"ech-opts\" (line 7): expected a table, got a boolean");
        CHECK(config_test::load_error(proxy + "[proxies.ech-opts]\nenabled = true\n")
                  .find("unknown key \"ech-opts.enabled\" (line 8); did you mean \"enable\"?") !=
              std::string::npos);
        CHECK(config_test::load_error(proxy + "[proxies.ech-opts]\nconfig = 3\n") ==
              "proxy \"m\": key \"ech-opts.config\" (line 8): expected a string, got an integer");
    }

    TEST_CASE("fingerprint: mihomo's spelling, colons or none, any case; other text refused") {
        const std::string proxy =
            "[[proxies]]\nname = \"m\"\ntype = \"anytls\"\nserver = \"h\"\nport = 443\n"
            "password = \"pw\"\n";
        const std::string hex = "9EBB4B0123456789abcdef0123456789ABCDEF0123456789abcdef012345394D";
        std::string colons;
        for (std::size_t i = 0; i < hex.size(); i += 2) colons += (i ? ":" : "") + hex.substr(i, 2);
        const std::string normal =
            "9ebb4b0123456789abcdef0123456789abcdef0123456789abcdef012345394d";
        CHECK(load_text(proxy + "fingerprint = \"" + hex + "\"\n").proxies.at(0).fingerprint ==
              normal);
        CHECK(load_text(proxy + "fingerprint = \"" + colons + "\"\n").proxies.at(0).fingerprint ==
              normal);
        CHECK(config_test::load_error(proxy + "fingerprint = \"chrome\"\n") ==
              "proxy \"m\": key \"fingerprint\" (line 7): fingerprint pins the server certificate "
              "(its SHA-256 in hex); a browser fingerprint is client-fingerprint");
        CHECK(config_test::load_error(proxy + "fingerprint = \"abcd\"\n") ==
              "proxy \"m\": key \"fingerprint\" (line 7): expected the SHA-256 of the server "
              "certificate: 64 hex digits (colons allowed), got 4");
        CHECK(config_test::load_error(proxy + "fingerprint = \"xyz\"\n")
                  .find("in hex (64 digits, colons allowed), got \"xyz\"") != std::string::npos);
    }

    TEST_CASE("mihomo's client-metadata is this proxy's client-name, checked like it") {
        const std::string proxy =
            "[[proxies]]\nname = \"m\"\ntype = \"anytls\"\nserver = \"h\"\nport = 443\n"
            "password = \"pw\"\n";
        const auto config = load_text(proxy + "client-metadata = \"custom/1\"\n");
        CHECK(config.proxies.at(0).pool.client_name == "custom/1");
        CHECK(config.global_pool.client_name.empty());
        CHECK(config_test::load_error(proxy + "client-metadata = \"a\\nb\"\n")
                  .find("key \"client-metadata\" (line 7): must not contain control characters") !=
              std::string::npos);
    }

    TEST_CASE("legacy-only: the three legacy keys are taken, durations as integers or strings") {
        const auto config = load_text(R"(
[[proxies]]
name = "legacy"
type = "anytls"
server = "legacy.example.com"
port = 443
password = "pw"
idle-session-check-interval = "1m"
idle-session-timeout = 90
min-idle-session = 2
)");
        const auto& proxy = proxy_named(config, "legacy");
        CHECK(proxy.pool.idle_session_check_interval == 1min);
        CHECK(proxy.pool.idle_session_timeout == 90s);
        CHECK(proxy.pool.min_idle_session == 2);
        CHECK(proxy.pool_sources[PoolKeyId::idle_session_check_interval] ==
              Source::legacy_per_proxy);
        CHECK(proxy.pool_sources[PoolKeyId::ensure_idle_session] == Source::default_value);
    }

    TEST_CASE("override-only: every pool key can be overridden per proxy") {
        const auto config = load_text(R"(
[[proxies]]
name = "tuned"
type = "anytls"
server = "tuned.example.com"
port = 443
password = "pw"
[proxies.session-override]
ensure-idle-session = 7
ensure-idle-session-create-rate = 2
min-idle-session = 3
min-idle-session-for-age = 1
max-connection-lifetime = "45m"
connection-lifetime-jitter = "5m"
idle-session-timeout = "2m"
idle-session-check-interval = "15s"
heartbeat-interval = "25s"
heartbeat-timeout = "3s"
tcp-keepalive = 0
session-reuse = false
client-name = "tuned/1"
creation-backoff-max = "2m"
)");
        const auto& proxy = proxy_named(config, "tuned");
        const PoolSettings expected{
            .ensure_idle_session = 7,
            .ensure_idle_session_create_rate = 2,
            .min_idle_session = 3,
            .min_idle_session_for_age = 1,
            .max_connection_lifetime = 45min,
            .connection_lifetime_jitter = 5min,
            .idle_session_timeout = 2min,
            .idle_session_check_interval = 15s,
            .heartbeat_interval = 25s,
            .heartbeat_timeout = 3s,
            .tcp_keepalive = 0s,
            .session_reuse = false,
            .client_name = "tuned/1",
            .creation_backoff_max = 2min,
        };
        CHECK(proxy.pool == expected);
        for (auto source : proxy.pool_sources.of) CHECK(source == Source::session_override);
    }

    TEST_CASE("mixed: each key resolved on its own, connection fields read") {
        const auto config = load_data("mixed-priority.toml");
        const auto& proxy = proxy_named(config, "mixed");
        CHECK(proxy.port == 8443);
        CHECK(proxy.sni == "front.example.com");
        CHECK(proxy.skip_cert_verify);
        CHECK(proxy.alpn == std::vector<std::string>{"h2", "http/1.1"});
        CHECK(proxy.ca_file == "/etc/anytls/ca.pem");

        const auto& pool = proxy.pool;
        const auto& from = proxy.pool_sources;
        CHECK(pool.min_idle_session == 3);  // override beats legacy (2) and global (4)
        CHECK(from[PoolKeyId::min_idle_session] == Source::session_override);
        CHECK(pool.idle_session_timeout == 120s);  // legacy beats global (10m)
        CHECK(from[PoolKeyId::idle_session_timeout] == Source::legacy_per_proxy);
        CHECK(pool.idle_session_check_interval == 45s);  // global
        CHECK(from[PoolKeyId::idle_session_check_interval] == Source::global);
        CHECK(pool.ensure_idle_session == 6);
        CHECK(pool.heartbeat_interval == 20s);
        CHECK(pool.tcp_keepalive == 30s);
        CHECK(pool.heartbeat_timeout == 5s);  // override
        CHECK_FALSE(pool.session_reuse);
        CHECK(pool.client_name == "my-app/2.0");
        CHECK(pool.creation_backoff_max == 60s);  // default
        CHECK(from[PoolKeyId::creation_backoff_max] == Source::default_value);

        // client-fingerprint is accepted and reported, not applied.
        REQUIRE(config.warnings.size() == 1);
        CHECK(config.warnings[0] ==
              "proxy \"mixed\": client-fingerprint \"chrome\" (line 21) is ignored: uTLS "
              "fingerprints are not supported");
    }

    TEST_CASE("the merge itself: override > legacy > global > defaults, key by key") {
        PoolLayer session_override, legacy, global;
        global[PoolKeyId::ensure_idle_session] = std::int64_t{4};
        global[PoolKeyId::min_idle_session] = std::int64_t{1};
        global[PoolKeyId::idle_session_timeout] = anytls::config::Duration{5min};
        legacy[PoolKeyId::min_idle_session] = std::int64_t{2};
        legacy[PoolKeyId::idle_session_timeout] = anytls::config::Duration{6min};
        session_override[PoolKeyId::idle_session_timeout] = anytls::config::Duration{7min};

        auto resolved = anytls::config::resolve_pool(session_override, legacy, global);
        REQUIRE(resolved.ok());
        CHECK(resolved->settings.ensure_idle_session == 4);
        CHECK(resolved->settings.min_idle_session == 2);
        CHECK(resolved->settings.idle_session_timeout == 7min);
        CHECK(resolved->settings.idle_session_check_interval == 30s);
        CHECK(resolved->sources[PoolKeyId::ensure_idle_session] == Source::global);
        CHECK(resolved->sources[PoolKeyId::min_idle_session] == Source::legacy_per_proxy);
        CHECK(resolved->sources[PoolKeyId::idle_session_timeout] == Source::session_override);
        CHECK(resolved->sources[PoolKeyId::idle_session_check_interval] == Source::default_value);
    }

    TEST_CASE("the merge refuses an out-of-range value from any caller") {
        PoolLayer session_override, legacy, global;
        session_override[PoolKeyId::min_idle_session] = std::int64_t{5'000'000'000};
        auto resolved = anytls::config::resolve_pool(session_override, legacy, global);
        REQUIRE_FALSE(resolved.ok());
        CHECK(
            resolved.error().message ==
            "min-idle-session (from session-override): expected a count <= 100000, got 5000000000");
    }

}  // TEST_SUITE
