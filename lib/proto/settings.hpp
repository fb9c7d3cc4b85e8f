// Settings and ServerSettings frame bodies: `key=value` lines joined by "\n" (docs/DESIGN.md,
// "Settings and ServerSettings"; anytls-go util/string_map.go StringMap.ToBytes /
// StringMapFromBytes).
//
// The client sends, once per session before its first SYN:
//     v=2
//     client=anytls-cpp/<version>
//     padding-md5=<lower-case hex md5 of its padding scheme>
// and a v2 server answers ServerSettings `v=2`. Go writes the lines in map order (random); we
// write them in the order given.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.hpp"

namespace anytls::proto {

// The protocol version this library speaks (Settings' and ServerSettings' `v`).
inline constexpr int protocol_version = 2;

using Settings = std::map<std::string, std::string, std::less<>>;
using SettingsEntry = std::pair<std::string_view, std::string_view>;

// Parses like StringMapFromBytes: split on "\n"; each line is split at its FIRST '=' into key
// and value; lines without '=' are skipped; nothing is trimmed (a "\r" stays in the value);
// a repeated key keeps its last value. Never fails.
Settings parse_settings(std::string_view text);

// Joins the entries as `key=value` lines with "\n" (no trailing newline). Fails with
// errc::invalid_argument when a key or value contains "\n" or a key contains '=' (the
// peer's parser would read something else).
Result<std::string> format_settings(std::span<const SettingsEntry> entries);

// "anytls-cpp/<library version>", the default for Settings' `client`.
std::string default_client_name();

// The client's Settings body: v=2, client=<client_name>, padding-md5=<padding_md5_hex>.
Result<std::string> client_settings(std::string_view client_name, std::string_view padding_md5_hex);

// The server's ServerSettings body: "v=2".
std::string server_settings();

// The peer's `v`, parsed like the references (strconv.Atoi): nullopt when missing or not an
// integer. Note the Go peers then store byte(v), i.e. the value modulo 256.
std::optional<std::int64_t> settings_version(const Settings& settings);

}  // namespace anytls::proto
