// Key-by-key priority merge (see merge.hpp).
#include "config/merge.hpp"

#include <fmt/format.h>

#include "base/errors.hpp"

namespace anytls::config {

Result<ResolvedPool> resolve_pool(const PoolLayer& session_override,
                                  const PoolLayer& legacy_per_proxy, const PoolLayer& global,
                                  const PoolSettings& defaults) {
    ResolvedPool resolved{defaults, {}};
    // Highest priority first; the first layer that sets a key decides it.
    const std::array<std::pair<const PoolLayer*, Source>, 3> layers{{
        {&session_override, Source::session_override},
        {&legacy_per_proxy, Source::legacy_per_proxy},
        {&global, Source::global},
    }};
    for (std::size_t i = 0; i < kPoolKeyCount; ++i) {
        const auto id = static_cast<PoolKeyId>(i);
        resolved.sources[id] = Source::default_value;
        for (const auto& [layer, source] : layers) {
            if (const auto& value = (*layer)[id]) {
                // The loader checked already; this keeps other callers (the C API) from
                // narrowing an out-of-range count into an int.
                if (auto checked = check_pool_value(id, *value); !checked)
                    return make_error(errc::config,
                                      fmt::format("{} (from {}): {}", pool_key(id).name,
                                                  source_name(source), checked.error().message));
                assign_pool_value(resolved.settings, id, *value);
                resolved.sources[id] = source;
                break;
            }
        }
    }
    if (auto valid = validate(resolved.settings, &resolved.sources); !valid)
        return std::move(valid).error();
    return resolved;
}

}  // namespace anytls::config
