// Helpers shared by the pool tests: settings from the feature description's TOML files,
// snapshot builders on a virtual clock.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "pool/session_snapshot.hpp"

namespace pool_test {

using namespace std::chrono_literals;
using anytls::pool::Duration;
using anytls::pool::PoolSessionState;
using anytls::pool::SessionInfo;
using anytls::pool::TimePoint;

// The virtual clock's origin; tests express every instant as kT0 + offset.
inline constexpr TimePoint kT0{};

inline anytls::config::ResolvedConfig load_data(const std::string& file) {
    auto loaded = anytls::config::load_config_file(std::string(ANYTLS_TEST_DATA_DIR) + "/" + file);
    if (!loaded) FAIL_CHECK(loaded.error().text());
    REQUIRE(loaded.ok());
    return std::move(loaded).value();
}

inline anytls::config::PoolSettings settings_of(const std::string& file, std::string_view proxy) {
    const auto config = load_data(file);
    for (const auto& candidate : config.proxies)
        if (candidate.name == proxy) return candidate.pool;
    FAIL("no proxy " << proxy << " in " << file);
    return {};
}

inline SessionInfo idle_session(std::uint64_t seq, TimePoint created_at, TimePoint idle_since,
                                Duration lifetime = Duration{0}) {
    return SessionInfo{seq, PoolSessionState::idle, created_at, idle_since, lifetime};
}

inline SessionInfo busy_session(std::uint64_t seq, TimePoint created_at,
                                Duration lifetime = Duration{0}) {
    return SessionInfo{seq, PoolSessionState::busy, created_at, created_at, lifetime};
}

inline SessionInfo creating_session(std::uint64_t seq) {
    return SessionInfo{seq, PoolSessionState::creating, {}, {}, {}};
}

}  // namespace pool_test
