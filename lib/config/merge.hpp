// The priority merge of pool settings (docs/DESIGN.md, "Configuration"): for each key separately,
// the proxy's session-override wins, then the proxy's legacy per-proxy key, then the global
// [experimental.anytls-session-management] section, then the default. Pure: layers in, validated
// settings (with where each value came from) out.
#pragma once

#include <array>
#include <optional>

#include "base/result.hpp"
#include "config/pool_keys.hpp"
#include "config/pool_settings.hpp"

namespace anytls::config {

// The pool keys one configuration section set; unset keys fall through to the next layer.
struct PoolLayer {
    std::array<std::optional<PoolValue>, kPoolKeyCount> values;

    std::optional<PoolValue>& operator[](PoolKeyId id) {
        return values[static_cast<std::size_t>(id)];
    }
    const std::optional<PoolValue>& operator[](PoolKeyId id) const {
        return values[static_cast<std::size_t>(id)];
    }
};

struct ResolvedPool {
    PoolSettings settings;
    PoolSources sources;
};

// Merges key by key and validates the result (validate() with sources, so a jitter/lifetime
// conflict says which layer each side came from). `defaults` supplies the default values —
// normally PoolSettings{} with client_name filled in from the library version.
// Each layer's values must already have the right kind (the loader guarantees it).
Result<ResolvedPool> resolve_pool(const PoolLayer& session_override,
                                  const PoolLayer& legacy_per_proxy, const PoolLayer& global,
                                  const PoolSettings& defaults = {});

}  // namespace anytls::config
