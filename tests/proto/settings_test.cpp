// Settings bodies: the client's and server's exact text, and parsing as tolerant as
// StringMapFromBytes.
#include <doctest/doctest.h>

#include <array>

#include "anytls_build_config.h"
#include "base/errors.hpp"
#include "proto/settings.hpp"

using namespace anytls;
using namespace anytls::proto;

TEST_SUITE("proto") {
    TEST_CASE("settings: client and server bodies") {
        auto client = client_settings("anytls-cpp/0.1.0", "75cff2ad89aadf5e257059ee571ebe11");
        REQUIRE(client.ok());
        CHECK(*client ==
              "v=2\nclient=anytls-cpp/0.1.0\npadding-md5=75cff2ad89aadf5e257059ee571ebe11");
        CHECK(server_settings() == "v=2");

        const Settings parsed = parse_settings(*client);
        CHECK(parsed.size() == 3);
        CHECK(parsed.at("v") == "2");
        CHECK(parsed.at("client") == "anytls-cpp/0.1.0");
        CHECK(parsed.at("padding-md5") == "75cff2ad89aadf5e257059ee571ebe11");
    }

    TEST_CASE("settings: by default the client= line is empty, as mihomo and sing-box send it") {
        // mihomo 1.19.30 (transport/anytls/session/session.go) and sing-box 1.14 (which
        // rewrites sing-anytls's line to its client_metadata, empty by default) both send
        // exactly these three lines, in Go map order.
        const std::string md5 = "75cff2ad89aadf5e257059ee571ebe11";
        CHECK(client_settings("", md5).value() == "v=2\nclient=\npadding-md5=" + md5);
        CHECK(client_settings("", md5, 1).value() == "client=\npadding-md5=" + md5 + "\nv=2");
        CHECK(client_settings("", md5, 2).value() == "padding-md5=" + md5 + "\nv=2\nclient=");
        CHECK(client_settings("x", md5, 3).value() == "v=2\nclient=x\npadding-md5=" + md5);
    }

    TEST_CASE("settings: the line orders come as often as Go's map iteration gives them") {
        // Each start slot of Go's 8-slot group once: 0 and the five empty slots keep the
        // insertion order, slots 1 and 2 rotate it.
        std::array<int, 3> seen{};
        for (std::uint32_t draw = 0; draw < 8; ++draw) ++seen.at(go_map_rotation(draw));
        CHECK(seen == std::array<int, 3>{6, 1, 1});
        CHECK(go_map_rotation(9) == 1);  // only the draw modulo 8 counts
    }

    TEST_CASE("settings: format keeps the given order and refuses ambiguous entries") {
        const std::array<SettingsEntry, 2> entries{{{"b", "1"}, {"a", "x=y"}}};
        auto text = format_settings(entries);
        REQUIRE(text.ok());
        CHECK(*text == "b=1\na=x=y");
        CHECK(format_settings(std::span<const SettingsEntry>{}).value().empty());

        const std::array<SettingsEntry, 1> newline_value{{{"client", "a\nb"}}};
        CHECK(format_settings(newline_value).code() == errc::invalid_argument);
        const std::array<SettingsEntry, 1> equals_key{{{"a=b", "c"}}};
        CHECK(format_settings(equals_key).code() == errc::invalid_argument);
        CHECK(client_settings("bad\nname", "00").code() == errc::invalid_argument);
    }

    TEST_CASE("settings: parsing is tolerant like StringMapFromBytes") {
        // Split at the first '=' only; lines without '=' are skipped; the last duplicate wins;
        // nothing is trimmed.
        const Settings s =
            parse_settings("a=b=c\nnoequals\nk=1\nk=2\n=empty-key\nr=x\r\n v = 2 \n\n");
        CHECK(s.at("a") == "b=c");
        CHECK(s.at("k") == "2");
        CHECK(s.at("") == "empty-key");
        CHECK(s.at("r") == "x\r");
        CHECK(s.at(" v ") == " 2 ");
        CHECK(s.count("noequals") == 0);
        CHECK(s.size() == 5);

        CHECK(parse_settings("").empty());
        CHECK(parse_settings("\n\n").empty());
        CHECK(parse_settings("k=").at("k").empty());
    }

    TEST_CASE("settings: the peer version parses like strconv.Atoi") {
        CHECK(settings_version(parse_settings("v=2")) == std::optional<std::int64_t>(2));
        CHECK(settings_version(parse_settings("v=+3")) == std::optional<std::int64_t>(3));
        CHECK(settings_version(parse_settings("v=1")) == std::optional<std::int64_t>(1));
        CHECK_FALSE(settings_version(parse_settings("v=two")));
        CHECK_FALSE(settings_version(parse_settings("v= 2")));
        CHECK_FALSE(settings_version(parse_settings("v=")));
        CHECK_FALSE(settings_version(parse_settings("client=x")));
    }

}  // TEST_SUITE
