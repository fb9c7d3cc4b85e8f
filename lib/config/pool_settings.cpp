// validate(PoolSettings): the checks shared by the TOML loader and the live C API setter.
#include "config/pool_settings.hpp"

#include <fmt/format.h>

#include "base/errors.hpp"
#include "config/pool_keys.hpp"

namespace anytls::config {

Result<void> validate(const PoolSettings& settings, const PoolSources* sources) {
    for (std::size_t i = 0; i < kPoolKeyCount; ++i) {
        const auto id = static_cast<PoolKeyId>(i);
        if (auto checked = check_pool_value(id, get_pool_value(settings, id)); !checked) {
            return make_error(errc::config,
                              fmt::format("{}: {}", pool_key(id).name, checked.error().message));
        }
    }
    // Jitter must stay below the lifetime, or a drawn lifetime could be zero or negative
    // (docs/DESIGN.md, "The session pool": lifetime = max-connection-lifetime + U(-jitter,
    // +jitter)). With rotation off (lifetime 0) the jitter is unused, so any value is accepted.
    const Duration lifetime = settings.max_connection_lifetime;
    const Duration jitter = settings.connection_lifetime_jitter;
    if (lifetime.count() > 0 && jitter >= lifetime) {
        auto from = [&](PoolKeyId id) -> std::string {
            if (sources == nullptr) return {};
            return fmt::format(", from {}", source_name((*sources)[id]));
        };
        return make_error(
            errc::config,
            fmt::format("connection-lifetime-jitter ({}{}) must be less than "
                        "max-connection-lifetime ({}{})",
                        format_duration(jitter), from(PoolKeyId::connection_lifetime_jitter),
                        format_duration(lifetime), from(PoolKeyId::max_connection_lifetime)));
    }
    return {};
}

}  // namespace anytls::config
