// Bad configurations: every error names the key, the section or proxy, what was expected and
// the line; nothing is half-applied (load_config returns an error, never a partial result).
#include <doctest/doctest.h>

#include <cerrno>
#include <string>

#include "config_test_support.hpp"

using config_test::load_error;

namespace {

// A valid proxy entry with extra lines appended inside it (lines 2-7 of the document).
std::string proxy_with(const std::string& extra, const std::string& name = "p1") {
    return "[[proxies]]\n"
           "name = \"" +
           name +
           "\"\n"
           "type = \"anytls\"\n"
           "server = \"example.com\"\n"
           "port = 443\n"
           "password = \"secret\"\n" +
           extra;
}

const std::string kGlobal = "[experimental.anytls-session-management]\n";

}  // namespace

TEST_SUITE("config") {
    TEST_CASE("TOML syntax errors report line and column") {
        CHECK(load_error("log-level = \"debug\"\nproxies = [\n") ==
              "test.toml:2:13: TOML syntax error: Error while parsing array: encountered "
              "end-of-file");
        const std::string duplicate = load_error("log-level = \"info\"\nlog-level = \"debug\"\n");
        CHECK(duplicate.rfind("test.toml:2:", 0) == 0);
        CHECK(duplicate.find("TOML syntax error") != std::string::npos);
    }

    TEST_CASE("unknown keys get a did-you-mean suggestion at every level") {
        SUBCASE("top level") {
            CHECK(load_error("log-levl = \"debug\"\n") ==
                  "top level: unknown key \"log-levl\" (line 1); did you mean \"log-level\"?");
            CHECK(load_error("[[proxy]]\nname = \"x\"\n") ==
                  "top level: unknown key \"proxy\" (line 1); did you mean \"proxies\"?");
            CHECK(load_error("rules = []\n") ==
                  "top level: unknown key \"rules\" (line 1); expected one of: log-level, "
                  "experimental, proxies");
        }
        SUBCASE("[experimental]") {
            CHECK(load_error("[experimental.anytls-session-managment]\n") ==
                  "[experimental]: unknown key \"anytls-session-managment\" (line 1); did you mean "
                  "\"anytls-session-management\"?");
        }
        SUBCASE("global section") {
            CHECK(load_error(kGlobal + "ensure-idle-sesion = 3\n") ==
                  "[experimental.anytls-session-management]: unknown key \"ensure-idle-sesion\" "
                  "(line 2); did you mean "
                  "\"ensure-idle-session\"?");
            CHECK(load_error(kGlobal + "max-conection-lifetime = \"2h\"\n") ==
                  "[experimental.anytls-session-management]: unknown key "
                  "\"max-conection-lifetime\" (line 2); did you "
                  "mean \"max-connection-lifetime\"?");
            CHECK(load_error(kGlobal + "heartbeat-intervall = \"20s\"\n") ==
                  "[experimental.anytls-session-management]: unknown key \"heartbeat-intervall\" "
                  "(line 2); did you "
                  "mean \"heartbeat-interval\"?");
        }
        SUBCASE("proxy") {
            CHECK(load_error(proxy_with("pasword = \"x\"\n")) ==
                  "proxy \"p1\": unknown key \"pasword\" (line 7); did you mean \"password\"?");
            CHECK(load_error(proxy_with("skip-cert-verfy = true\n")) ==
                  "proxy \"p1\": unknown key \"skip-cert-verfy\" (line 7); did you mean "
                  "\"skip-cert-verify\"?");
            CHECK(load_error(proxy_with("min-idle-sesion = 2\n")) ==
                  "proxy \"p1\": unknown key \"min-idle-sesion\" (line 7); did you mean "
                  "\"min-idle-session\"?");
            CHECK(load_error(proxy_with("[proxies.session-overide]\n")) ==
                  "proxy \"p1\": unknown key \"session-overide\" (line 7); did you mean "
                  "\"session-override\"?");
        }
        SUBCASE("a pool key that is not a legacy per-proxy key") {
            CHECK(load_error(proxy_with("ensure-idle-session = 4\n")) ==
                  "proxy \"p1\": unknown key \"ensure-idle-session\" (line 7); "
                  "\"ensure-idle-session\" is a pool key: "
                  "set it in [proxies.session-override] for this proxy or in "
                  "[experimental.anytls-session-management] for all");
        }
        SUBCASE("session-override") {
            CHECK(
                load_error(proxy_with("[proxies.session-override]\nensure-idle-sessions = 4\n")) ==
                "proxy \"p1\": unknown key \"session-override.ensure-idle-sessions\" (line 8); did "
                "you mean "
                "\"ensure-idle-session\"?");
            CHECK(load_error(proxy_with("[proxies.session-override]\nserver = \"x\"\n"))
                      .rfind("proxy \"p1\": unknown key \"session-override.server\" (line 8); "
                             "expected one of: "
                             "ensure-idle-session, ",
                             0) == 0);
        }
    }

    TEST_CASE("wrong types") {
        CHECK(load_error("log-level = 3\n") ==
              "top level: key \"log-level\" (line 1): expected a string, got an integer");
        CHECK(load_error("log-level = \"verbose\"\n") ==
              "top level: key \"log-level\" (line 1): expected one of silent, error, warning, "
              "info, debug, trace, got "
              "\"verbose\"");
        CHECK(load_error("experimental = 1\n") ==
              "top level: key \"experimental\" (line 1): expected a table, got an integer");
        CHECK(load_error("proxies = \"none\"\n") ==
              "top level: key \"proxies\" (line 1): expected an array of tables ([[proxies]]), got "
              "a string");
        CHECK(load_error("proxies = [1]\n") ==
              "top level: key \"proxies\" (line 1): expected an array of tables ([[proxies]]), "
              "element 1 is an "
              "integer");
        CHECK(load_error(kGlobal + "ensure-idle-session = \"10\"\n") ==
              "[experimental.anytls-session-management]: key \"ensure-idle-session\" (line 2): "
              "expected a count (an "
              "integer >= 0), got a string");
        CHECK(load_error(kGlobal + "min-idle-session = 2.5\n") ==
              "[experimental.anytls-session-management]: key \"min-idle-session\" (line 2): "
              "expected a count (an "
              "integer >= 0), got a floating-point number");
        CHECK(load_error(kGlobal + "max-connection-lifetime = true\n") ==
              "[experimental.anytls-session-management]: key \"max-connection-lifetime\" (line 2): "
              "expected a "
              "duration string like \"30s\" or an integer number of seconds, got a boolean");
        CHECK(load_error(kGlobal + "idle-session-timeout = \"10 minutes\"\n") ==
              "[experimental.anytls-session-management]: key \"idle-session-timeout\" (line 2): "
              "invalid duration "
              "\"10 minutes\": unknown unit \" minutes\" (expected h, m, s, ms, us or ns)");
        CHECK(load_error(kGlobal + "idle-session-timeout = \"600\"\n") ==
              "[experimental.anytls-session-management]: key \"idle-session-timeout\" (line 2): "
              "invalid duration "
              "\"600\": missing unit (expected h, m, s, ms, us or ns after the number)");
        CHECK(load_error(kGlobal + "session-reuse = \"no\"\n") ==
              "[experimental.anytls-session-management]: key \"session-reuse\" (line 2): expected "
              "true or false, got "
              "a string");
        CHECK(load_error(kGlobal + "client-name = 7\n") ==
              "[experimental.anytls-session-management]: key \"client-name\" (line 2): expected a "
              "string, got an "
              "integer");
        CHECK(load_error(kGlobal + "client-name = \"two\\nlines\"\n") ==
              "[experimental.anytls-session-management]: key \"client-name\" (line 2): must not "
              "contain control "
              "characters (such as a newline)");
        CHECK(load_error(proxy_with("port = \"443\"\n")
                             .replace(proxy_with("").find("port = 443\n"), 11, "")) ==
              "proxy \"p1\": key \"port\" (line 6): expected an integer, got a string");
        CHECK(load_error(proxy_with("alpn = \"h2\"\n")) ==
              "proxy \"p1\": key \"alpn\" (line 7): expected an array of strings, got a string");
        CHECK(load_error(proxy_with("alpn = [\"h2\", 11]\n")) ==
              "proxy \"p1\": key \"alpn\" (line 7): expected an array of strings, element 2 is an "
              "integer");
        CHECK(load_error(proxy_with("skip-cert-verify = 1\n")) ==
              "proxy \"p1\": key \"skip-cert-verify\" (line 7): expected true or false, got an "
              "integer");
        CHECK(load_error(proxy_with("session-override = 5\n")) ==
              "proxy \"p1\": key \"session-override\" (line 7): expected a table, got an integer");
        CHECK(load_error("[[proxies]]\nname = 5\n") ==
              "proxy #1: key \"name\" (line 2): expected a string, got an integer");
    }

    TEST_CASE("negative counts and durations") {
        CHECK(load_error(kGlobal + "ensure-idle-session = -1\n") ==
              "[experimental.anytls-session-management]: key \"ensure-idle-session\" (line 2): "
              "expected a count >= 0, "
              "got -1");
        CHECK(
            load_error(proxy_with("[proxies.session-override]\nmin-idle-session-for-age = -3\n")) ==
            "proxy \"p1\": key \"session-override.min-idle-session-for-age\" (line 8): expected a "
            "count >= 0, got -3");
        CHECK(load_error(proxy_with("min-idle-session = -2\n")) ==
              "proxy \"p1\": key \"min-idle-session\" (line 7): expected a count >= 0, got -2");
        CHECK(load_error(kGlobal + "ensure-idle-session-create-rate = 1000000\n") ==
              "[experimental.anytls-session-management]: key \"ensure-idle-session-create-rate\" "
              "(line 2): expected a "
              "count <= 100000, got 1000000");
        CHECK(load_error(kGlobal + "max-connection-lifetime = \"-2h\"\n") ==
              "[experimental.anytls-session-management]: key \"max-connection-lifetime\" (line 2): "
              "must not be "
              "negative, got -2h");
        CHECK(load_error(kGlobal + "connection-lifetime-jitter = -60\n") ==
              "[experimental.anytls-session-management]: key \"connection-lifetime-jitter\" (line "
              "2): must not be "
              "negative, got -1m");
        CHECK(load_error(proxy_with("[proxies.session-override]\ntcp-keepalive = \"-1s\"\n")) ==
              "proxy \"p1\": key \"session-override.tcp-keepalive\" (line 8): must not be "
              "negative, got -1s");
    }

    TEST_CASE("zero or negative intervals") {
        CHECK(load_error(kGlobal + "idle-session-check-interval = 0\n") ==
              "[experimental.anytls-session-management]: key \"idle-session-check-interval\" (line "
              "2): must be "
              "greater than 0, got 0s");
        CHECK(load_error(kGlobal + "idle-session-check-interval = \"-30s\"\n") ==
              "[experimental.anytls-session-management]: key \"idle-session-check-interval\" (line "
              "2): must not be "
              "negative, got -30s");
        CHECK(
            load_error(proxy_with("idle-session-timeout = \"0s\"\n")) ==
            "proxy \"p1\": key \"idle-session-timeout\" (line 7): must be greater than 0, got 0s");
        CHECK(load_error(proxy_with("[proxies.session-override]\nheartbeat-timeout = \"0\"\n")) ==
              "proxy \"p1\": key \"session-override.heartbeat-timeout\" (line 8): must be greater "
              "than 0, got 0s");
        // Zero is fine where it means "off".
        CHECK(anytls::config::load_config(kGlobal +
                                          "heartbeat-interval = 0\ntcp-keepalive = \"0s\"\n"
                                          "max-connection-lifetime = 0\ncreation-backoff-max = 0\n")
                  .ok());
    }

    TEST_CASE("jitter must stay below the lifetime") {
        CHECK(load_error(
                  kGlobal +
                  "max-connection-lifetime = \"30m\"\nconnection-lifetime-jitter = \"30m\"\n") ==
              "[experimental.anytls-session-management]: connection-lifetime-jitter (30m, from "
              "[experimental.anytls-session-management]) must be less than max-connection-lifetime "
              "(30m, from "
              "[experimental.anytls-session-management])");
        // The conflict appears only after the merge: the override shortens the global lifetime.
        CHECK(
            load_error(kGlobal +
                       "max-connection-lifetime = \"2h\"\nconnection-lifetime-jitter = \"30m\"\n" +
                       proxy_with("[proxies.session-override]\nmax-connection-lifetime = \"20m\"\n",
                                  "short")) ==
            "proxy \"short\": connection-lifetime-jitter (30m, from "
            "[experimental.anytls-session-management]) must "
            "be less than max-connection-lifetime (20m, from session-override)");
        // Rotation off: the jitter is unused and accepted.
        CHECK(anytls::config::load_config(kGlobal + "connection-lifetime-jitter = \"30m\"\n").ok());
    }

    TEST_CASE("proxy identity: missing keys, duplicate names, type, port") {
        CHECK(load_error(
                  "[[proxies]]\ntype = \"anytls\"\nserver = \"a\"\nport = 1\npassword = \"x\"\n") ==
              "proxy #1 (line 1): missing required key \"name\"");
        CHECK(load_error("[[proxies]]\nname = \"\"\n") ==
              "proxy #1: key \"name\" (line 2): must not be empty");
        CHECK(load_error(
                  "[[proxies]]\nname = \"a\"\ntype = \"anytls\"\nport = 1\npassword = \"x\"\n") ==
              "proxy \"a\" (line 1): missing required key \"server\"");
        CHECK(load_error(
                  "[[proxies]]\nname = \"a\"\ntype = \"anytls\"\nserver = \"s\"\nport = 1\n") ==
              "proxy \"a\" (line 1): missing required key \"password\"");
        CHECK(load_error("[[proxies]]\nname = \"a\"\ntype = \"anytls\"\nserver = \"s\"\npassword = "
                         "\"x\"\n") == "proxy \"a\" (line 1): missing required key \"port\"");
        CHECK(
            load_error("[[proxies]]\nname = \"a\"\nserver = \"s\"\nport = 1\npassword = \"x\"\n") ==
            "proxy \"a\" (line 1): missing required key \"type\"");
        CHECK(load_error(proxy_with("") +
                         "[[proxies]]\nname = \"b\"\ntype = \"anytls\"\nserver = \"\"\n") ==
              "proxy \"b\": key \"server\" (line 10): must not be empty");
        CHECK(load_error(proxy_with("") + proxy_with("", "p2") + proxy_with("", "p1")) ==
              "proxy \"p1\" (line 13): duplicate name; the proxy at line 1 has the same name");

        const std::string vmess = proxy_with("").replace(proxy_with("").find("anytls"), 6, "vmess");
        CHECK(load_error(vmess) ==
              "proxy \"p1\": key \"type\" (line 3): expected \"anytls\", got \"vmess\" (this "
              "library only speaks AnyTLS)");

        const std::string base = proxy_with("");
        const auto port_at = base.find("port = 443");
        CHECK(load_error(std::string(base).replace(port_at, 10, "port = 0")) ==
              "proxy \"p1\": key \"port\" (line 5): expected a port number from 1 to 65535, got 0");
        CHECK(load_error(std::string(base).replace(port_at, 10, "port = 65536")) ==
              "proxy \"p1\": key \"port\" (line 5): expected a port number from 1 to 65535, got "
              "65536");
        CHECK(load_error(std::string(base).replace(port_at, 10, "port = -443")) ==
              "proxy \"p1\": key \"port\" (line 5): expected a port number from 1 to 65535, got "
              "-443");
        CHECK(anytls::config::load_config(std::string(base).replace(port_at, 10, "port = 65535"))
                  .ok());
    }

    TEST_CASE("the password never appears in an error message") {
        const std::string text =
            proxy_with("[proxies.session-override]\nensure-idle-session = -1\n")
                .replace(proxy_with("").find("secret"), 6, "hunter2-very-secret");
        CHECK(load_error(text).find("hunter2") == std::string::npos);
    }

    TEST_CASE("a failing proxy fails the whole configuration") {
        auto loaded = anytls::config::load_config(
            proxy_with("", "good") +
            proxy_with("[proxies.session-override]\nmin-idle-session = -1\n", "bad"));
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error().message.rfind("proxy \"bad\"", 0) == 0);
    }

    TEST_CASE("load_config_file: a missing file is an errno error naming the path") {
        auto loaded = anytls::config::load_config_file("/nonexistent/anytls.toml");
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.code() == -ENOENT);
        CHECK(loaded.error().message ==
              "cannot read configuration file \"/nonexistent/anytls.toml\": No such file or "
              "directory");
    }

}  // TEST_SUITE
