// The table of session-pool keys: the eight of the cleanup cycle plus the health keys
// (docs/DESIGN.md, "Configuration"; every key in docs/CONFIG.md).
//
// Every place that handles pool keys by name walks this table instead of repeating the list:
// the TOML loader (which keys a section accepts, how a value is read, "did you mean"), the
// priority merge (merge.hpp), validate(), and `anytls plan` output (which shows each value
// with its source). Names are mihomo's spelling exactly, so configurations carry over.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "base/result.hpp"
#include "config/duration.hpp"
#include "config/pool_settings.hpp"

namespace anytls::config {

// What kind of TOML value a key takes.
enum class ValueKind {
    count,     // integer >= 0
    duration,  // "30s" or an integer number of seconds
    boolean,
    text,
};

// The constraint beyond the kind.
enum class ValueRule {
    none,
    non_negative,  // counts, and durations where 0 means "off"
    positive,      // intervals and timeouts: 0 would make no sense
};

struct PoolKey {
    std::string_view name;  // mihomo spelling, e.g. "ensure-idle-session"
    ValueKind kind;
    ValueRule rule;
    bool legacy_per_proxy;  // also accepted directly inside a [[proxies]] entry (pre-pool mihomo)
    std::string_view meaning;  // one line for plan output and error hints
};

// Index of each key in the table, in declaration order.
enum class PoolKeyId : std::size_t {
    ensure_idle_session,
    ensure_idle_session_create_rate,
    min_idle_session,
    min_idle_session_for_age,
    max_connection_lifetime,
    connection_lifetime_jitter,
    idle_session_timeout,
    idle_session_check_interval,
    heartbeat_interval,
    heartbeat_timeout,
    tcp_keepalive,
    session_reuse,
    client_name,
    creation_backoff_max,
};
inline constexpr std::size_t kPoolKeyCount = 14;

std::span<const PoolKey, kPoolKeyCount> pool_keys();
const PoolKey& pool_key(PoolKeyId id);
// The row for a name, or nullopt if the name is not a pool key.
std::optional<PoolKeyId> find_pool_key(std::string_view name);

// One value as read from a configuration layer. Counts are kept wide until validated.
using PoolValue = std::variant<std::int64_t, Duration, bool, std::string>;

// Where a resolved value came from, lowest priority first (docs/DESIGN.md, "Configuration":
// session-override beats the legacy per-proxy keys, which beat the global section, which beats the
// defaults).
enum class Source { default_value, global, legacy_per_proxy, session_override };
std::string_view source_name(
    Source source);  // "session-override", "[experimental.anytls-session-management]", ...

struct PoolSources {
    std::array<Source, kPoolKeyCount> of{};  // indexed by PoolKeyId
    Source& operator[](PoolKeyId id) { return of[static_cast<std::size_t>(id)]; }
    Source operator[](PoolKeyId id) const { return of[static_cast<std::size_t>(id)]; }
    bool operator==(const PoolSources&) const = default;
};

// Reads and writes one field of PoolSettings through the table. assign() expects a value of
// the key's kind (the loader only produces those) and a count already range-checked.
PoolValue get_pool_value(const PoolSettings& settings, PoolKeyId id);
void assign_pool_value(PoolSettings& settings, PoolKeyId id, const PoolValue& value);

// Checks one value against its key's rule. The message starts with the problem, without the
// key name, e.g. "must be greater than 0, got 0s"; callers add the key and the location.
Result<void> check_pool_value(PoolKeyId id, const PoolValue& value);

// "10", "30m", "true", "\"custom/1\"" — for messages and plan output.
std::string format_pool_value(const PoolValue& value);

}  // namespace anytls::config
