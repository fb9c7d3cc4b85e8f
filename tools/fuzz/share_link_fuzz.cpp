// Fuzz target: parse_share_link (lib/config/share_link.hpp), the anytls:// links users paste
// from anywhere into `--uri` and `uri = "..."`.
//
// Input layout: the whole input is the link text.
//
// Invariants:
//   - no exception escapes; a failure carries errc::config and a message that starts with
//     "share link: " and holds no control character;
//   - an accepted link has a non-empty password without NUL, a non-empty host of name
//     characters (or an IPv6 literal) and a port from 1 to 65535;
//   - format_share_link() of an accepted link parses back to the same link, and formatting is
//     a fixed point (format(parse(format(x))) == format(x));
//   - the password never shows up in an error: the input is also parsed behind a marker
//     password ("anytls://<marker>@" + input), and a failure's message must not contain it.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include "base/errors.hpp"
#include "config/share_link.hpp"
#include "fuzz_input.hpp"

namespace {

using namespace anytls::config;

constexpr std::string_view kMarker = "Mk7secretPassw0rd";

anytls::Result<ShareLink> parse_without_throwing(std::string_view text) {
    try {
        return parse_share_link(text);
    } catch (const std::exception& error) {
        std::fprintf(stderr, "parse_share_link threw: %s\n", error.what());
    } catch (...) {
        std::fprintf(stderr, "parse_share_link threw a non-standard exception\n");
    }
    anytls::fuzz::invariant_broken("parse_share_link does not throw", __FILE__, __LINE__);
}

void check_failure(const anytls::Result<ShareLink>& parsed) {
    FUZZ_CHECK(parsed.code() == anytls::errc::config);
    const std::string& message = parsed.error().message;
    FUZZ_CHECK(message.rfind("share link: ", 0) == 0);
    for (char c : message) FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
}

bool host_character(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == ':';
}

void check_success(const ShareLink& link) {
    FUZZ_CHECK(!link.password.empty());
    FUZZ_CHECK(link.password.find('\0') == std::string::npos);
    FUZZ_CHECK(!link.host.empty());
    for (char c : link.host) FUZZ_CHECK(host_character(c));
    FUZZ_CHECK(link.port >= 1);
    const std::string text = format_share_link(link);
    const auto again = parse_without_throwing(text);
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(again.value() == link);
    FUZZ_CHECK(format_share_link(again.value()) == text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = anytls::fuzz::as_text(std::span<const std::uint8_t>(data, size));
    const auto parsed = parse_without_throwing(text);
    if (parsed) {
        check_success(parsed.value());
    } else {
        check_failure(parsed);
    }

    if (text.find(kMarker) == std::string_view::npos) {
        const std::string behind_marker =
            std::string("anytls://") + std::string(kMarker) + "@" + std::string(text);
        const auto secret = parse_without_throwing(behind_marker);
        if (secret) {
            check_success(secret.value());
        } else {
            check_failure(secret);
            FUZZ_CHECK(secret.error().message.find(kMarker) == std::string::npos);
        }
    }
    return 0;
}
