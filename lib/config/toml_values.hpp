// Reading typed values out of toml++ nodes, with errors that say where and what was expected.
// Private to lib/config: the client and server loaders use it.
//
// Every message has the shape
//   <context>: key "<key>" (line N): <problem>
// where the context is "top level", "[experimental.anytls-session-management]" or
// `proxy "name"`, and the key is dotted below the context ("session-override.min-idle-session").
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "config/pool_keys.hpp"

namespace anytls::config::detail {

struct KeyPlace {
    std::string context;  // "top level", "[experimental.anytls-session-management]", "proxy \"x\""
    std::string key;      // dotted path below the context
};

// The document of a configuration text: refused over the size limit (check_config_size), and
// a syntax error as "<source>:<line>:<column>: TOML syntax error: <what>".
Result<toml::table> parse_document(std::string_view toml_text, const std::string& source);

std::string_view toml_type_name(const toml::node& node);  // "a string", "an integer", ...
std::uint32_t line_of(const toml::node& node);            // 0 when unknown
std::string line_suffix(const toml::node& node);          // " (line N)", or "" when unknown

// "<context>: key "<key>" (line N): <problem>"
Error key_error(const KeyPlace& place, const toml::node& node, std::string_view problem);

// "<context>: unknown key "<prefix><key>" (line N); did you mean "<closest>"?" — or, with no
// close candidate, the list of accepted keys. `hint` replaces both when not empty. The
// prefix ("session-override.") is shown but not compared against the known names.
Error unknown_key_error(std::string_view context, std::string_view key, const toml::node& node,
                        std::span<const std::string_view> known, std::string_view hint = {},
                        std::string_view prefix = {});

Result<std::string> read_string(const KeyPlace& place, const toml::node& node);
Result<bool> read_bool(const KeyPlace& place, const toml::node& node);
Result<std::int64_t> read_integer(const KeyPlace& place, const toml::node& node);
// An integer from 1 to max (a count or a limit), or "expected an integer from 1 to <max>".
Result<std::uint64_t> read_count(const KeyPlace& place, const toml::node& node, std::uint64_t max);
Result<std::vector<std::string>> read_string_array(const KeyPlace& place, const toml::node& node);

// The tables of an array of tables (`[[proxies]]`, `[[users]]`: `place.key` names it); an error
// at `place` when `node` is not an array or an element is not a table.
Result<std::vector<const toml::table*>> read_array_of_tables(const KeyPlace& place,
                                                             const toml::node& node);

// The names given in an array of tables, which must be unique: the second use of a name is
// `<what> "<name>" (line N): duplicate name; the <what> at line M has the same name`.
class UniqueNames {
public:
    explicit UniqueNames(std::string_view what) : what_(what) {}
    Result<void> add(const std::string& name, const toml::table& table);

private:
    std::string what_;
    std::map<std::string, std::uint32_t> lines_by_name_;
};

// A pool key's value: a count (integer), a duration ("30s" or integer seconds), a boolean or a
// string according to the key, checked against the key's rule (check_pool_value()).
Result<PoolValue> read_pool_value(const KeyPlace& place, const toml::node& node, PoolKeyId id);

}  // namespace anytls::config::detail
