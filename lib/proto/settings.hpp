// Settings and ServerSettings frame bodies: `key=value` lines joined by "\n" (docs/DESIGN.md,
// "Settings and ServerSettings"; anytls-go util/string_map.go StringMap.ToBytes /
// StringMapFromBytes).
//
// The client sends, once per session before its first SYN, the three lines
//     v=2
//     client=<client-name; empty by default>
//     padding-md5=<lower-case hex md5 of its padding scheme>
// in one of the orders Go's map iteration gives them (go_map_rotation), and a v2 server
// answers ServerSettings `v=2` (docs/DESIGN.md, "Settings and ServerSettings").
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

// Which order the Go clients (mihomo, sing-box, anytls-go) write their three-entry Settings
// map in, for one random draw. Go stores a small map's entries in insertion order (v, client,
// padding-md5) in one group of 8 slots and starts each iteration at a random slot, wrapping
// around: a start at slot 1 or 2 rotates the order, a start at 0 or at one of the 5 empty
// slots gives the insertion order. So 0 (v, client, padding-md5) comes 6 times in 8, and
// 1 (client, padding-md5, v) and 2 (padding-md5, v, client) once each.
unsigned go_map_rotation(std::uint32_t random);

// The client's Settings body: the lines v=2, client=<client_name>, padding-md5=<md5>, rotated
// left `rotation` times (0 to 2; go_map_rotation). An empty client_name still sends
// "client=", as mihomo and sing-box do by default.
Result<std::string> client_settings(std::string_view client_name, std::string_view padding_md5_hex,
                                    unsigned rotation = 0);

// The server's ServerSettings body: "v=2".
std::string server_settings();

// The peer's `v`, parsed like the references (strconv.Atoi): nullopt when missing or not an
// integer. Note the Go peers then store byte(v), i.e. the value modulo 256.
std::optional<std::int64_t> settings_version(const Settings& settings);

}  // namespace anytls::proto
