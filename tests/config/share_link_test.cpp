// Share links (lib/config/share_link.hpp): the parser's fields and defaults, an error naming
// the wrong part for every kind of malformed link (never the password), the canonical
// formatter's round trip, and `uri` in a [[proxies]] entry and through add_share_link_proxy().
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config/share_link.hpp"
#include "config_test_support.hpp"

using anytls::config::format_share_link;
using anytls::config::parse_share_link;
using anytls::config::ShareLink;
using config_test::load_error;
using config_test::load_text;

namespace {

ShareLink parse_ok(std::string_view text) {
    auto parsed = parse_share_link(text);
    if (!parsed) FAIL_CHECK(parsed.error().text());
    REQUIRE(parsed.ok());
    return std::move(parsed).value();
}

std::string parse_error(std::string_view text) {
    auto parsed = parse_share_link(text);
    REQUIRE_FALSE(parsed.ok());
    CHECK(parsed.code() == anytls::errc::config);
    const std::string& message = parsed.error().message;
    CHECK(message.rfind("share link: ", 0) == 0);
    return message;
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_SUITE("share link") {
    TEST_CASE("defaults: port 443, no sni, verification on, no name") {
        const ShareLink link = parse_ok("anytls://secret@example.com");
        CHECK(link.password == "secret");
        CHECK(link.host == "example.com");
        CHECK(link.port == 443);
        CHECK(link.sni.empty());
        CHECK_FALSE(link.insecure);
        CHECK(link.name.empty());
        CHECK(parse_ok("anytls://secret@example.com/") == link);
        CHECK(parse_ok("  anytls://secret@example.com/?\n") == link);
        CHECK(parse_ok("ANYTLS://secret@example.com") == link);
    }

    TEST_CASE("every field") {
        const ShareLink link =
            parse_ok("anytls://pw@1.2.3.4:8443/?sni=cdn.example.com&insecure=1#Tokyo%201");
        CHECK(link.password == "pw");
        CHECK(link.host == "1.2.3.4");
        CHECK(link.port == 8443);
        CHECK(link.sni == "cdn.example.com");
        CHECK(link.insecure);
        CHECK(link.name == "Tokyo 1");
        CHECK_FALSE(parse_ok("anytls://pw@h/?insecure=0").insecure);
        CHECK(parse_ok("anytls://pw@h/?sni=&").sni.empty());
    }

    TEST_CASE("IPv6 host in brackets, with and without a port") {
        CHECK(parse_ok("anytls://pw@[::1]:8443").host == "::1");
        CHECK(parse_ok("anytls://pw@[::1]:8443").port == 8443);
        CHECK(parse_ok("anytls://pw@[2001:db8::1]/?sni=a.example").host == "2001:db8::1");
        CHECK(parse_ok("anytls://pw@[2001:db8::1]").port == 443);
        CHECK(
            contains(parse_error("anytls://pw@::1:443"), "IPv6 host must be written in brackets"));
        CHECK(contains(parse_error("anytls://pw@[::1:443"), "missing its closing ']'"));
        CHECK(contains(parse_error("anytls://pw@[]:443"), "the host is missing"));
        CHECK(contains(parse_error("anytls://pw@[::1]x"), "after the IPv6 host"));
        CHECK(contains(parse_error("anytls://pw@[zz::1]"), "may only hold hex digits"));
        CHECK(contains(parse_error("anytls://pw@[1.2.3.4]"), "is not an IPv6 address"));
    }

    TEST_CASE("a percent-encoded password is decoded, and a raw ':' belongs to it") {
        CHECK(parse_ok("anytls://p%40ss%3Aw%2Fo%20rd%25@h").password == "p@ss:w/o rd%");
        CHECK(parse_ok("anytls://user:pass@h").password == "user:pass");
        CHECK(parse_ok("anytls://a@b@h").password == "a@b");  // the last '@' ends the password
        CHECK(parse_ok("anytls://%e4%bd%a0@h").password == "\xe4\xbd\xa0");
    }

    TEST_CASE("bad percent-escapes say where, and never show the password") {
        const std::string message = parse_error("anytls://hunter%2@h");
        CHECK(contains(message, "the password has a bad percent-escape"));
        CHECK_FALSE(contains(message, "hunter"));
        CHECK(
            contains(parse_error("anytls://hunter%zz@h"), "the password has a bad percent-escape"));
        CHECK(contains(parse_error("anytls://pw%00x@h"), "NUL byte"));
        CHECK(contains(parse_error("anytls://pw@h#bad%G1"),
                       "the name (the part after '#') has a bad percent-escape"));
        CHECK(contains(parse_error("anytls://pw@h/?sni=a%"),
                       "query parameter \"sni\" has a bad percent-escape"));
        CHECK(contains(parse_error("anytls://pw@h/?sni=a%0Ab"), "encoded control character"));
    }

    TEST_CASE("missing or empty password") {
        CHECK(contains(parse_error("anytls://example.com:443"), "the password is missing"));
        CHECK(
            contains(parse_error("anytls://@example.com:443"), "the password before '@' is empty"));
    }

    TEST_CASE("bad scheme") {
        CHECK(contains(parse_error("vless://pw@h:443"),
                       "the scheme must be \"anytls\", got \"vless\""));
        CHECK(contains(parse_error("pw@h:443"), "expected it to start with \"anytls://\""));
        CHECK(contains(parse_error("anytls:/pw@h"), "expected it to start with \"anytls://\""));
        CHECK(contains(parse_error(""), "the link is empty"));
    }

    TEST_CASE("bad port") {
        CHECK(contains(parse_error("anytls://pw@h:0"),
                       "the port must be a number from 1 to 65535, got \"0\""));
        CHECK(contains(parse_error("anytls://pw@h:65536"), "got \"65536\""));
        CHECK(contains(parse_error("anytls://pw@h:99999999999999999999"), "from 1 to 65535"));
        CHECK(contains(parse_error("anytls://pw@h:-1"), "got \"-1\""));
        CHECK(contains(parse_error("anytls://pw@h:44a"), "got \"44a\""));
        CHECK(contains(parse_error("anytls://pw@h:"), "the port is empty after ':'"));
        CHECK(contains(parse_error("anytls://pw@[::1]:"), "the port is empty after ':'"));
        CHECK(parse_ok("anytls://pw@h:65535").port == 65535);
        CHECK(parse_ok("anytls://pw@h:1").port == 1);
    }

    TEST_CASE("bad host, path and query") {
        CHECK(contains(parse_error("anytls://pw@"), "the host is missing"));
        CHECK(contains(parse_error("anytls://pw@:443"), "the host is missing"));
        CHECK(contains(parse_error("anytls://pw@ex%41mple.com"),
                       "the host \"ex%41mple.com\" contains '%'"));
        CHECK(contains(parse_error("anytls://pw@h/path"), "unexpected path \"/path\""));
        CHECK(contains(parse_error("anytls://pw@h/?peer=h2"), "unknown query parameter \"peer\""));
        CHECK(contains(parse_error("anytls://pw@h/?insecure=yes"),
                       "\"insecure\" must be 0 or 1, got \"yes\""));
        CHECK(contains(parse_error("anytls://pw@h/?insecure"),
                       "\"insecure\" must be 0 or 1, got \"\""));
        CHECK(contains(parse_error("anytls://pw@h/?sni=a&sni=b"), "\"sni\" is given twice"));
        CHECK(contains(parse_error("anytls://pw@h/?=x"), "has no name"));
        CHECK(
            contains(parse_error("anytls://pw @h/"), "space or control character at position 12"));
    }

    TEST_CASE("what converters add: allowInsecure, alpn, fp and hpkp") {
        // As real subscription links carry them (insecure and allowInsecure both, fp=chrome).
        const auto link = parse_ok(
            "anytls://pw@h:8443?insecure=1&allowInsecure=1&sni=bing.com&fp=chrome"
            "&alpn=h2,http%2F1.1&hpkp=AB:cd#n");
        CHECK(link.insecure);
        CHECK(link.sni == "bing.com");
        CHECK(link.client_fingerprint == "chrome");
        CHECK(link.alpn == std::vector<std::string>{"h2", "http/1.1"});
        CHECK(link.fingerprint == "AB:cd");  // checked by the loader, as the key is
        CHECK(parse_ok("anytls://pw@h?allowInsecure=1").insecure);
        CHECK_FALSE(parse_ok("anytls://pw@h?allowInsecure=0&insecure=0").insecure);
        CHECK(parse_ok("anytls://pw@h?alpn=").alpn.empty());
        CHECK(parse_ok("anytls://pw@h?alpn=a%2Cb").alpn == std::vector<std::string>{"a,b"});
        CHECK(contains(parse_error("anytls://pw@h?insecure=1&allowInsecure=0"),
                       "\"insecure\" and \"allowInsecure\" disagree"));
        CHECK(contains(parse_error("anytls://pw@h?allowInsecure=true"),
                       "\"allowInsecure\" must be 0 or 1, got \"true\""));
        CHECK(contains(parse_error("anytls://pw@h?alpn=h2,,x"), "empty protocol name"));
        CHECK(contains(parse_error("anytls://pw@h?alpn=h2,"), "empty protocol name"));
        CHECK(contains(parse_error("anytls://pw@h?fp=a&fp=b"), "\"fp\" is given twice"));
    }

    TEST_CASE("the fragment is the name, decoded") {
        CHECK(parse_ok("anytls://pw@h#home").name == "home");
        CHECK(parse_ok("anytls://pw@h:1/?sni=x#%E6%97%A5%E6%9C%AC").name ==
              "\xe6\x97\xa5\xe6\x9c\xac");
        CHECK(parse_ok("anytls://pw@h#").name.empty());
        CHECK(parse_ok("anytls://pw@h#a#b").name == "a#b");
    }

    TEST_CASE("format_share_link round-trips and leaves defaults out") {
        ShareLink link;
        link.password = "p@ss word/%:";
        link.host = "2001:db8::7";
        link.port = 8443;
        link.sni = "cdn.example.com";
        link.insecure = true;
        link.name = "Tokyo #1";
        const std::string text = format_share_link(link);
        CHECK(text ==
              "anytls://p%40ss%20word%2F%25%3A@[2001:db8::7]:8443/"
              "?sni=cdn.example.com&insecure=1#Tokyo%20%231");
        CHECK(parse_ok(text) == link);
        ShareLink extras;
        extras.password = "pw";
        extras.host = "h";
        extras.alpn = {"h2", "a,b"};
        extras.client_fingerprint = "chrome";
        extras.fingerprint = "ab:cd";
        const std::string extras_text = format_share_link(extras);
        CHECK(extras_text == "anytls://pw@h/?alpn=h2,a%2Cb&fp=chrome&hpkp=ab%3Acd");
        CHECK(parse_ok(extras_text) == extras);
        ShareLink plain;
        plain.password = "pw";
        plain.host = "example.com";
        CHECK(format_share_link(plain) == "anytls://pw@example.com/");
    }

    TEST_CASE("uri in a [[proxies]] entry") {
        const auto config = load_text(
            "[[proxies]]\n"
            "uri = \"anytls://s%40cret@[::1]:8443/?sni=example.com&insecure=1#home\"\n");
        REQUIRE(config.proxies.size() == 1);
        const auto& proxy = config.proxies[0];
        CHECK(proxy.name == "home");  // from the fragment; type may be left out
        CHECK(proxy.server == "::1");
        CHECK(proxy.port == 8443);
        CHECK(proxy.password == "s@cret");
        CHECK(proxy.sni == "example.com");
        CHECK(proxy.skip_cert_verify);

        const auto named = load_text(
            "[[proxies]]\nname = \"office\"\ntype = \"anytls\"\nuri = "
            "\"anytls://pw@example.com#home\"\n");
        CHECK(named.proxies.at(0).name == "office");  // the entry's name wins over the fragment
        CHECK(named.proxies.at(0).port == 443);
    }

    TEST_CASE("uri errors in a [[proxies]] entry name the key and the line") {
        CHECK(load_error("[[proxies]]\nname = \"p\"\nuri = \"anytls://pw@h:0\"\n") ==
              "proxy \"p\": key \"uri\" (line 3): share link: the port must be a number from 1 to "
              "65535, got \"0\"");
        CHECK(load_error("[[proxies]]\nname = \"p\"\nuri = \"anytls://pw@h\"\nport = 443\n") ==
              "proxy \"p\": key \"uri\" (line 3): a share link sets server, port, password, sni "
              "and skip-cert-verify; "
              "remove either \"port\" or \"uri\"");
        CHECK(contains(load_error("[[proxies]]\nuri = \"anytls://pw@h\"\n"),
                       "missing required key \"name\""));
        CHECK(contains(load_error("[[proxies]]\nname = \"p\"\nuri = 5\n"),
                       "key \"uri\" (line 3): expected a string"));
    }

    TEST_CASE("a link's alpn, fp and hpkp reach the proxy as their keys do") {
        const std::string pin = "9EBB4B0123456789abcdef0123456789ABCDEF0123456789abcdef012345394D";
        const auto config = load_text(
            "[[proxies]]\nname = \"p\"\nuri = \"anytls://pw@h/?alpn=h2,"
            "http%2F1.1&fp=chrome&hpkp=" +
            pin + "\"\n");
        const auto& proxy = config.proxies.at(0);
        CHECK(proxy.alpn == std::vector<std::string>{"h2", "http/1.1"});
        CHECK(proxy.fingerprint ==
              "9ebb4b0123456789abcdef0123456789abcdef0123456789abcdef012345394d");
        REQUIRE(config.warnings.size() == 1);
        CHECK(config.warnings[0] ==
              "proxy \"p\": the share link's fp \"chrome\" (line 3) is ignored: uTLS "
              "fingerprints are not supported");
        CHECK(load_error("[[proxies]]\nname = \"p\"\nuri = \"anytls://pw@h/?hpkp=abcd\"\n") ==
              "proxy \"p\": share link (line 3): hpkp: expected the SHA-256 of the server "
              "certificate: 64 hex digits (colons allowed), got 4");
        CHECK(load_error("[[proxies]]\nname = \"p\"\nuri = \"anytls://pw@h/?alpn=h2\"\n"
                         "alpn = [\"h2\"]\n") ==
              "proxy \"p\": key \"uri\" (line 3): the share link sets alpn too; remove either "
              "\"alpn\" or its parameter in \"uri\"");
        // Without the parameter in the link, the key is the proxy's own.
        CHECK(load_text("[[proxies]]\nname = \"p\"\nuri = \"anytls://pw@h\"\nalpn = [\"h2\"]\n")
                  .proxies.at(0)
                  .alpn == std::vector<std::string>{"h2"});
        auto cli = load_text("");
        REQUIRE(
            anytls::config::add_share_link_proxy(cli, "anytls://pw@h?fp=firefox&alpn=h2#x").ok());
        CHECK(cli.proxies.at(0).alpn == std::vector<std::string>{"h2"});
        REQUIRE(cli.warnings.size() == 1);
        CHECK(contains(cli.warnings[0], "the share link's fp \"firefox\" is ignored"));
    }

    TEST_CASE("add_share_link_proxy gives the link the global pool settings") {
        auto config = load_text(
            "[experimental.anytls-session-management]\nensure-idle-session = 3\n"
            "[[proxies]]\nname = \"home\"\ntype = \"anytls\"\nserver = \"h\"\nport = 1\npassword = "
            "\"x\"\n");
        CHECK(anytls::config::add_share_link_proxy(config, "anytls://pw@example.com:444").ok());
        REQUIRE(config.proxies.size() == 2);
        CHECK(config.proxies[1].name == "link");
        CHECK(config.proxies[1].port == 444);
        CHECK(config.proxies[1].pool.ensure_idle_session == 3);
        CHECK(config.proxies[1].pool_sources[anytls::config::PoolKeyId::ensure_idle_session] ==
              anytls::config::Source::global);
        CHECK(config.proxies[1].pool_sources[anytls::config::PoolKeyId::idle_session_timeout] ==
              anytls::config::Source::default_value);
        auto duplicate =
            anytls::config::add_share_link_proxy(config, "anytls://pw@example.com#home");
        REQUIRE_FALSE(duplicate.ok());
        CHECK(contains(duplicate.error().message, "\"home\" is already used"));
        auto bad = anytls::config::add_share_link_proxy(config, "anytls://pw@h:x");
        REQUIRE_FALSE(bad.ok());
        CHECK(contains(bad.error().message, "the port must be"));
    }

}  // TEST_SUITE
