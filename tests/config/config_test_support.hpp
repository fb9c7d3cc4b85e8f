// Helpers shared by the config tests: load a file from tests/data, unwrap a Result.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "base/errors.hpp"
#include "config/config.hpp"

namespace config_test {

inline anytls::config::ResolvedConfig load_data(const std::string& file) {
    auto loaded = anytls::config::load_config_file(std::string(ANYTLS_TEST_DATA_DIR) + "/" + file,
                                                   anytls::config::LoadOptions{file});
    if (!loaded) FAIL_CHECK(loaded.error().text());
    REQUIRE(loaded.ok());
    return std::move(loaded).value();
}

inline anytls::config::ResolvedConfig load_text(std::string_view text) {
    auto loaded = anytls::config::load_config(text, anytls::config::LoadOptions{"test.toml"});
    if (!loaded) FAIL_CHECK(loaded.error().text());
    REQUIRE(loaded.ok());
    return std::move(loaded).value();
}

// The error message of a configuration that must fail.
inline std::string load_error(std::string_view text) {
    auto loaded = anytls::config::load_config(text, anytls::config::LoadOptions{"test.toml"});
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.code() == anytls::errc::config);
    return loaded.error().message;
}

inline const anytls::config::ProxyConfig& proxy_named(const anytls::config::ResolvedConfig& config,
                                                      std::string_view name) {
    for (const auto& proxy : config.proxies)
        if (proxy.name == name) return proxy;
    FAIL("no proxy named " << name);
    return config.proxies.front();  // not reached
}

}  // namespace config_test
