// server::load_server_config (lib/server/load_server_config.hpp): the one loader of the
// server's file, shared by `anytls server` and anytls_server_start. Its errors name the source,
// the key and the line; what it builds is the ServerConfig the server runs with.
#include <doctest/doctest.h>

#include <string>

#include "base/errors.hpp"
#include "server/load_server_config.hpp"

using namespace anytls;
using anytls::server::load_server_config;
using anytls::server::ServerConfigOptions;

namespace {

std::string load_error(const std::string& text, const ServerConfigOptions& options = {}) {
    auto loaded = load_server_config(text, options);
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.code() == errc::config);
    return loaded.error().message;
}

const std::string kUsers = "[[users]]\nname = \"alice\"\npassword = \"a-secret\"\n";

}  // namespace

TEST_SUITE("server config loader") {
    TEST_CASE(
        "every key of docs/SERVER.md reaches the ServerConfig; self-signed makes a certificate") {
        const std::string text =
            "listen = \"127.0.0.1:0\"\nself-signed = true\nself-signed-names = [\"localhost\", "
            "\"::1\"]\n"
            "padding-scheme = \"stop=2\\n0=30-30\\n1=100-200\"\nfallback = \"127.0.0.1:80\"\n"
            "synack = \"immediate\"\nmax-sessions = 7\nmax-streams-per-session = 9\nthreads = 3\n"
            "handshake-timeout = \"2s\"\nauth-timeout = 3\nconnect-timeout = \"1m\"\nalpn = "
            "[\"h2\"]\n"
            "log-level = \"debug\"\n" +
            kUsers + "[[users]]\npassword = \"b-secret\"\n";
        auto loaded = load_server_config(text);
        REQUIRE(loaded.ok());
        const server::ServerConfig& config = loaded->config;
        CHECK(config.listen == "127.0.0.1:0");
        CHECK(config.certificate_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        CHECK(config.private_key_pem.find("PRIVATE KEY") != std::string::npos);
        CHECK(config.certificate_file.empty());
        CHECK(loaded->self_signed_certificate_pem == config.certificate_pem);
        CHECK(loaded->self_signed_fingerprint.size() == 32 * 3 - 1);
        CHECK(config.padding_scheme == "stop=2\n0=30-30\n1=100-200");
        CHECK(config.fallback == "127.0.0.1:80");
        CHECK(config.synack == server::SynAckMode::immediate);
        CHECK(config.max_sessions == 7);
        CHECK(config.threads == 3);
        CHECK(config.max_streams_per_session == 9);
        CHECK(config.handshake_timeout == std::chrono::seconds(2));
        CHECK(config.auth_timeout == std::chrono::seconds(3));
        CHECK(config.connect_timeout == std::chrono::minutes(1));
        CHECK(config.alpn == std::vector<std::string>{"h2"});
        CHECK(loaded->log_level == config::LogLevel::debug);
        REQUIRE(config.users.size() == 2);
        CHECK(config.users[0].name == "alice");
        CHECK(config.users[0].password == "a-secret");
        CHECK(config.users[1].name == "user #2");  // a name is optional
    }

    TEST_CASE("threads: absent is 0 (the group's default); 1 to 256, else an error") {
        auto absent = load_server_config("listen = \"127.0.0.1:0\"\nself-signed = true\n" + kUsers);
        REQUIRE(absent.ok());
        CHECK(absent->config.threads == 0);
        CHECK(load_error("self-signed = true\nthreads = 0\n" + kUsers) ==
              "server config: top level: key \"threads\" (line 2): expected an integer from 1 "
              "to 256, got 0");
        CHECK(load_error("self-signed = true\nthreads = 257\n" + kUsers) ==
              "server config: top level: key \"threads\" (line 2): expected an integer from 1 "
              "to 256, got 257");
        CHECK(load_error("self-signed = true\nthreads = \"2\"\n" + kUsers)
                  .find("key \"threads\" (line 2): expected an integer") != std::string::npos);
    }

    TEST_CASE("errors name the source, the key and the line") {
        CHECK(load_error("self-signed = true\nmax-sessions = 0\n" + kUsers) ==
              "server config: top level: key \"max-sessions\" (line 2): expected an integer from 1 "
              "to 1000000, got 0");
        ServerConfigOptions named;
        named.source_name = "server.toml";
        CHECK(
            load_error("self-signed = true\nfallbak = \"127.0.0.1:80\"\n" + kUsers, named) ==
            "server.toml: top level: unknown key \"fallbak\" (line 2); did you mean \"fallback\"?");
        CHECK(load_error("listen = \"127.0.0.1:0\"\ncertificate = \"/nonexistent/s.pem\"\n"
                         "private-key = \"/nonexistent/s.key\"\n" +
                         kUsers) ==
              "server config: top level: key \"certificate\" (line 2): cannot read "
              "\"/nonexistent/s.pem\": "
              "No such file or directory");
        CHECK(load_error("self-signed = true\npadding-scheme = \"nothing\"\n" + kUsers)
                  .starts_with("server config: top level: key \"padding-scheme\" (line 2): not a "
                               "valid padding scheme"));
        CHECK(load_error("self-signed = true\n[[users]]\nname = \"a\"\npassword = 5\n") ==
              "server config: user \"a\": key \"password\" (line 4): expected a string, got an "
              "integer");
        CHECK(load_error("self-signed = true\ncertificate-pem = \"x\"\n" + kUsers) ==
              "server config: top level (line 2): key \"certificate-pem\" needs key "
              "\"private-key-pem\"");
        const std::string syntax = load_error("listen = \n");
        CHECK(syntax.starts_with("server config:"));
        CHECK(syntax.find("TOML syntax error") != std::string::npos);
    }

    TEST_CASE("listen and the certificate: the caller's default, override and hints") {
        CHECK(load_error("self-signed = true\n" + kUsers) ==
              "server config: top level: missing required key \"listen\"");
        ServerConfigOptions options;
        options.listen_hint = " (or pass --listen ADDR)";
        options.certificate_hint = " (or pass --self-signed)";
        CHECK(load_error("self-signed = true\n" + kUsers, options) ==
              "server config: top level: missing required key \"listen\" (or pass --listen ADDR)");
        options.default_listen = "127.0.0.1:0";
        CHECK(load_error(kUsers, options) ==
              "server config: top level: no certificate: set keys \"certificate\" and "
              "\"private-key\", or "
              "\"self-signed\" = true (or pass --self-signed)");
        options.self_signed =
            true;  // --self-signed: the certificate files are neither read nor used
        options.listen = "[::1]:0";
        auto loaded = load_server_config(
            "listen = \"127.0.0.1:1\"\ncertificate = \"/nonexistent/s.pem\"\n"
            "private-key = \"/nonexistent/s.key\"\n" +
                kUsers,
            options);
        REQUIRE(loaded.ok());
        CHECK(loaded->config.listen == "[::1]:0");
        CHECK(loaded->certificate_files_ignored);
        CHECK(loaded->config.certificate_file.empty());
        CHECK_FALSE(loaded->config.certificate_pem.empty());
    }

}  // TEST_SUITE
