// The pool key table and value plumbing (see pool_keys.hpp).
#include "config/pool_keys.hpp"

#include <fmt/format.h>

#include <cassert>

#include "base/errors.hpp"

namespace anytls::config {

namespace {

// Order must match PoolKeyId. The legacy flags are the three keys mihomo accepted per proxy
// before session management existed (docs/DESIGN.md, "Configuration").
constexpr std::array<PoolKey, kPoolKeyCount> kKeys{{
    {"ensure-idle-session", ValueKind::count, ValueRule::non_negative, false,
     "target of idle + creating sessions kept ready (0 = no proactive creation)"},
    {"ensure-idle-session-create-rate", ValueKind::count, ValueRule::non_negative, false,
     "proactive creations per cleanup cycle (0 = no limit)"},
    {"min-idle-session", ValueKind::count, ValueRule::non_negative, true,
     "timed-out idle sessions kept by idle cleanup"},
    {"min-idle-session-for-age", ValueKind::count, ValueRule::non_negative, false,
     "idle sessions age cleanup never goes below"},
    {"max-connection-lifetime", ValueKind::duration, ValueRule::non_negative, false,
     "session lifetime before rotation (0 = off)"},
    {"connection-lifetime-jitter", ValueKind::duration, ValueRule::non_negative, false,
     "lifetime randomization, +/- (must be below the lifetime)"},
    {"idle-session-timeout", ValueKind::duration, ValueRule::positive, true,
     "idle time after which a session may be closed"},
    {"idle-session-check-interval", ValueKind::duration, ValueRule::positive, true,
     "period of the cleanup cycle"},
    {"heartbeat-interval", ValueKind::duration, ValueRule::non_negative, false,
     "heartbeat probe period for idle v2 sessions (0 = off)"},
    {"heartbeat-timeout", ValueKind::duration, ValueRule::positive, false,
     "time a heartbeat may go unanswered before the session is closed"},
    {"tcp-keepalive", ValueKind::duration, ValueRule::non_negative, false,
     "TCP keepalive idle time (0 = off)"},
    {"session-reuse", ValueKind::boolean, ValueRule::none, false,
     "return sessions to the pool after a stream (false = one stream per session)"},
    {"client-name", ValueKind::text, ValueRule::none, false,
     "client= value sent in Settings (default empty, as mihomo and sing-box send)"},
    {"creation-backoff-max", ValueKind::duration, ValueRule::non_negative, false,
     "cap of the exponential backoff after failed creations (0 = no backoff)"},
}};

// The PoolSettings member behind each key, in PoolKeyId order.
using Field = std::variant<int PoolSettings::*, Duration PoolSettings::*, bool PoolSettings::*,
                           std::string PoolSettings::*>;
const std::array<Field, kPoolKeyCount> kFields{{
    &PoolSettings::ensure_idle_session,
    &PoolSettings::ensure_idle_session_create_rate,
    &PoolSettings::min_idle_session,
    &PoolSettings::min_idle_session_for_age,
    &PoolSettings::max_connection_lifetime,
    &PoolSettings::connection_lifetime_jitter,
    &PoolSettings::idle_session_timeout,
    &PoolSettings::idle_session_check_interval,
    &PoolSettings::heartbeat_interval,
    &PoolSettings::heartbeat_timeout,
    &PoolSettings::tcp_keepalive,
    &PoolSettings::session_reuse,
    &PoolSettings::client_name,
    &PoolSettings::creation_backoff_max,
}};

std::size_t index(PoolKeyId id) { return static_cast<std::size_t>(id); }

}  // namespace

std::span<const PoolKey, kPoolKeyCount> pool_keys() { return kKeys; }

const PoolKey& pool_key(PoolKeyId id) { return kKeys[index(id)]; }

std::optional<PoolKeyId> find_pool_key(std::string_view name) {
    for (std::size_t i = 0; i < kKeys.size(); ++i)
        if (kKeys[i].name == name) return static_cast<PoolKeyId>(i);
    return std::nullopt;
}

std::string_view source_name(Source source) {
    switch (source) {
        case Source::session_override:
            return "session-override";
        case Source::legacy_per_proxy:
            return "the legacy per-proxy key";
        case Source::global:
            return "[experimental.anytls-session-management]";
        case Source::default_value:
            return "the default";
    }
    return "?";
}

PoolValue get_pool_value(const PoolSettings& settings, PoolKeyId id) {
    return std::visit(
        [&](auto member) -> PoolValue {
            const auto& field = settings.*member;
            if constexpr (std::is_same_v<std::decay_t<decltype(field)>, int>)
                return static_cast<std::int64_t>(field);
            else
                return field;
        },
        kFields[index(id)]);
}

void assign_pool_value(PoolSettings& settings, PoolKeyId id, const PoolValue& value) {
    std::visit(
        [&](auto member) {
            auto& field = settings.*member;
            using FieldType = std::decay_t<decltype(field)>;
            if constexpr (std::is_same_v<FieldType, int>) {
                assert(std::holds_alternative<std::int64_t>(value));
                field = static_cast<int>(std::get<std::int64_t>(value));
            } else {
                assert(std::holds_alternative<FieldType>(value));
                field = std::get<FieldType>(value);
            }
        },
        kFields[index(id)]);
}

Result<void> check_pool_value(PoolKeyId id, const PoolValue& value) {
    const PoolKey& key = pool_key(id);
    if (const auto* count = std::get_if<std::int64_t>(&value)) {
        if (*count < 0)
            return make_error(errc::config, fmt::format("expected a count >= 0, got {}", *count));
        if (*count > kMaxSessionCount)
            return make_error(errc::config, fmt::format("expected a count <= {}, got {}",
                                                        kMaxSessionCount, *count));
    } else if (const auto* duration = std::get_if<Duration>(&value)) {
        if (duration->count() < 0)
            return make_error(errc::config, fmt::format("must not be negative, got {}",
                                                        format_duration(*duration)));
        if (key.rule == ValueRule::positive && duration->count() == 0)
            return make_error(errc::config, "must be greater than 0, got 0s");
    } else if (const auto* text = std::get_if<std::string>(&value)) {
        // client-name becomes one line of the Settings frame ("key=value" lines joined by
        // "\n", docs/DESIGN.md, "Settings and ServerSettings"): a control character would corrupt
        // the frame.
        for (unsigned char c : *text)
            if (c < 0x20 || c == 0x7f)
                return make_error(errc::config,
                                  "must not contain control characters (such as a newline)");
    }
    return {};
}

std::string format_pool_value(const PoolValue& value) {
    return std::visit(
        [](const auto& v) -> std::string {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::int64_t>)
                return fmt::format("{}", v);
            else if constexpr (std::is_same_v<T, Duration>)
                return format_duration(v);
            else if constexpr (std::is_same_v<T, bool>)
                return v ? "true" : "false";
            else
                return fmt::format("\"{}\"", v);
        },
        value);
}

}  // namespace anytls::config
