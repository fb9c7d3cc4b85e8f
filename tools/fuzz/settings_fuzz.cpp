// Fuzz target: parse_settings / format_settings (lib/proto/settings.hpp), the parser of the
// Settings and ServerSettings frames a peer sends.
//
// Input layout: the whole input is used twice —
//   - as a frame body for parse_settings;
//   - split at 0x00 bytes into fields, taken in pairs as (key, value) entries for
//     format_settings (an odd last field is a key with an empty value).
//
// Invariants:
//   - parsing never yields a key holding '=' or '\n', nor a value holding '\n', so the parsed
//     map always formats, and format -> parse gives the same map back (and formatting that
//     again gives the same text);
//   - format_settings fails exactly when a key holds '=' or '\n' or a value holds '\n'; when
//     it succeeds, parsing its text gives the entries, the last value winning for a repeated
//     key;
//   - settings_version agrees with the `v` entry; client_settings round-trips its fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/errors.hpp"
#include "fuzz_input.hpp"
#include "proto/go_int.hpp"
#include "proto/settings.hpp"

namespace {

using namespace anytls::proto;

std::vector<SettingsEntry> entries_of(const Settings& settings) {
    std::vector<SettingsEntry> entries;
    entries.reserve(settings.size());
    for (const auto& [key, value] : settings) entries.emplace_back(key, value);
    return entries;
}

void check_parsed(const Settings& parsed) {
    for (const auto& [key, value] : parsed) {
        FUZZ_CHECK(key.find_first_of("=\n") == std::string::npos);
        FUZZ_CHECK(value.find('\n') == std::string::npos);
    }
    const auto entries = entries_of(parsed);
    const auto text = format_settings(entries);
    FUZZ_CHECK(text.ok());
    // Parsed once and checked twice: equal to `parsed`, and formatting to the same text.
    const Settings reparsed = parse_settings(text.value());
    FUZZ_CHECK(reparsed == parsed);
    const auto again = format_settings(entries_of(reparsed));
    FUZZ_CHECK(again.ok() && again.value() == text.value());

    const auto version = settings_version(parsed);
    const auto v = parsed.find(std::string_view("v"));
    if (v == parsed.end()) {
        FUZZ_CHECK(!version);
    } else {
        FUZZ_CHECK(version == parse_go_int(v->second));
    }
}

// The last value of each key, as parse_settings keeps it (built in place, like the parser).
void expect(Settings& expected, std::string_view key, std::string_view value) {
    const auto at = expected.lower_bound(key);
    if (at != expected.end() && at->first == key) {
        at->second.assign(value);
    } else {
        expected.emplace_hint(at, key, value);
    }
}

void check_format(std::string_view input) {
    // Kept from run to run (cleared, not freed): allocation was most of this target's time.
    static std::vector<std::string_view> fields;
    static std::vector<SettingsEntry> entries;
    fields.clear();
    entries.clear();
    while (true) {
        const std::size_t zero = input.find('\0');
        fields.push_back(input.substr(0, zero));
        if (zero == std::string_view::npos) break;
        input.remove_prefix(zero + 1);
    }
    bool formattable = true;
    Settings expected;
    for (std::size_t i = 0; i < fields.size(); i += 2) {
        const std::string_view key = fields[i];
        const std::string_view value = i + 1 < fields.size() ? fields[i + 1] : std::string_view{};
        entries.emplace_back(key, value);
        if (key.find_first_of("=\n") != std::string_view::npos ||
            value.find('\n') != std::string_view::npos) {
            formattable = false;
        }
        expect(expected, key, value);
    }
    const auto text = format_settings(entries);
    FUZZ_CHECK(text.ok() == formattable);
    if (!text) {
        FUZZ_CHECK(text.code() == anytls::errc::invalid_argument);
        return;
    }
    FUZZ_CHECK(parse_settings(text.value()) == expected);
}

void check_client_settings(std::string_view input) {
    // Any name and md5 text without a newline round-trips.
    const std::size_t newline = input.find('\n');
    const std::string_view name = input.substr(0, newline);
    const std::string_view md5 =
        newline == std::string_view::npos ? std::string_view{} : input.substr(newline + 1);
    const auto text = client_settings(name, md5);
    FUZZ_CHECK(text.ok() == (md5.find('\n') == std::string_view::npos));
    if (!text) return;
    const Settings parsed = parse_settings(text.value());
    FUZZ_CHECK(parsed.size() == 3);
    FUZZ_CHECK(settings_version(parsed) == protocol_version);
    FUZZ_CHECK(parsed.at("client") == name);
    FUZZ_CHECK(parsed.at("padding-md5") == md5);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    check_parsed(parse_settings(text));
    check_format(text);
    check_client_settings(text);
    return 0;
}
