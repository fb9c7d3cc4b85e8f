// Fuzz target: load_config (lib/config/config.hpp), TOML text from a file the user edits (or
// a C API caller passes) into a resolved configuration.
//
// Input layout: the whole input is the TOML text.
//
// Invariants:
//   - no exception escapes (docs/DESIGN.md, "Errors are values"); a failure carries
//     errc::config and a message;
//   - an accepted configuration is whole: the global pool and every proxy's pool pass
//     validate(), every proxy has a name (unique), type, server, port 1..65535 and password;
//   - loading is deterministic: the same text gives the same result twice;
//   - a password never shows up in a warning (checked for passwords of 8+ bytes that occur
//     only once in the text, so no other key can legitimately quote the same bytes).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <set>
#include <string>
#include <string_view>

#include "base/errors.hpp"
#include "config/config.hpp"
#include "fuzz_input.hpp"

namespace {

using namespace anytls::config;

anytls::Result<ResolvedConfig> load_without_throwing(std::string_view text) {
    try {
        return load_config(text, LoadOptions{"0.1.0", "fuzz.toml"});
    } catch (const std::exception& error) {
        std::fprintf(stderr, "load_config threw: %s\n", error.what());
    } catch (...) {
        std::fprintf(stderr, "load_config threw a non-standard exception\n");
    }
    anytls::fuzz::invariant_broken("load_config does not throw", __FILE__, __LINE__);
}

std::size_t occurrences(std::string_view text, std::string_view needle) {
    std::size_t count = 0;
    for (std::size_t at = text.find(needle); at != std::string_view::npos;
         at = text.find(needle, at + 1))
        ++count;
    return count;
}

void check_accepted(std::string_view text, const ResolvedConfig& config) {
    FUZZ_CHECK(validate(config.global_pool).ok());
    std::set<std::string> names;
    for (const ProxyConfig& proxy : config.proxies) {
        FUZZ_CHECK(!proxy.name.empty());
        FUZZ_CHECK(names.insert(proxy.name).second);
        FUZZ_CHECK(!proxy.server.empty());
        FUZZ_CHECK(proxy.port >= 1);
        FUZZ_CHECK(!proxy.password.empty());
        FUZZ_CHECK(validate(proxy.pool).ok());
        FUZZ_CHECK(validate(proxy.pool, &proxy.pool_sources).ok());
        if (proxy.password.size() >= 8 && occurrences(text, proxy.password) == 1) {
            for (const std::string& warning : config.warnings) {
                FUZZ_CHECK(warning.find(proxy.password) == std::string::npos);
            }
        }
    }
}

void check_same(const ResolvedConfig& a, const ResolvedConfig& b) {
    FUZZ_CHECK(a.log_level == b.log_level);
    FUZZ_CHECK(a.global_pool == b.global_pool);
    FUZZ_CHECK(a.warnings == b.warnings);
    FUZZ_CHECK(a.proxies.size() == b.proxies.size());
    for (std::size_t i = 0; i < a.proxies.size(); ++i) {
        const ProxyConfig& x = a.proxies[i];
        const ProxyConfig& y = b.proxies[i];
        FUZZ_CHECK(x.name == y.name && x.server == y.server && x.port == y.port &&
                   x.password == y.password);
        FUZZ_CHECK(x.sni == y.sni && x.skip_cert_verify == y.skip_cert_verify && x.alpn == y.alpn);
        FUZZ_CHECK(x.ca_file == y.ca_file && x.pool == y.pool);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto first = load_without_throwing(text);
    const auto second = load_without_throwing(text);
    FUZZ_CHECK(first.ok() == second.ok());
    if (!first) {
        FUZZ_CHECK(first.code() == anytls::errc::config);
        FUZZ_CHECK(!first.error().message.empty());
        FUZZ_CHECK(first.error().message == second.error().message);
        return 0;
    }
    check_accepted(text, first.value());
    check_same(first.value(), second.value());
    return 0;
}
