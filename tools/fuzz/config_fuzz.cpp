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
//   - loading is deterministic: an accepted text gives the same result twice (checked for
//     accepted texts only: most inputs are refused, and a second load of each would halve the
//     executions per second for a property the refusal path shares with it);
//   - a password never shows up in a warning. Checked for passwords of 8+ bytes that occur
//     once in the text, against a variant of the text in which that occurrence is overwritten:
//     when the variant's password differs (the occurrence was the password), the password may
//     appear in the warnings no more often than in the variant's. A password that is a piece
//     of the loader's own wording, or whose bytes the text holds elsewhere (a share link's
//     percent-encoded password, decoded in its #name), is then not taken for a leak.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/errors.hpp"
#include "config/config.hpp"
#include "fuzz_input.hpp"

namespace {

using namespace anytls::config;

anytls::Result<ResolvedConfig> load_without_throwing(std::string_view text) {
    try {
        return load_config(text, LoadOptions{"fuzz.toml"});
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

std::size_t occurrences_in(const std::vector<std::string>& warnings, std::string_view needle) {
    std::size_t count = 0;
    for (const std::string& warning : warnings) count += occurrences(warning, needle);
    return count;
}

void check_password_not_in_warnings(std::string_view text, const ResolvedConfig& config,
                                    const ProxyConfig& proxy) {
    const std::string& password = proxy.password;
    const std::size_t leaked = occurrences_in(config.warnings, password);
    if (leaked == 0) return;
    // The variant: the one occurrence overwritten with a byte the password does not hold.
    const char filler = password.find('Q') == std::string::npos ? 'Q' : 'q';
    std::string variant(text);
    variant.replace(variant.find(password), password.size(), password.size(), filler);
    auto other = load_without_throwing(variant);
    if (!other) return;
    for (const ProxyConfig& p : other.value().proxies) {
        if (p.name != proxy.name) continue;
        if (p.password == password) return;  // the occurrence was not the password's source
        FUZZ_CHECK(leaked <= occurrences_in(other.value().warnings, password));
        return;
    }
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
        if (proxy.password.size() >= 8 && occurrences(text, proxy.password) == 1)
            check_password_not_in_warnings(text, config, proxy);
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
        FUZZ_CHECK(x.ca_file == y.ca_file && x.fingerprint == y.fingerprint && x.pool == y.pool);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto first = load_without_throwing(text);
    if (!first) {
        FUZZ_CHECK(first.code() == anytls::errc::config);
        FUZZ_CHECK(!first.error().message.empty());
        return 0;
    }
    check_accepted(text, first.value());
    const auto second = load_without_throwing(text);
    FUZZ_CHECK(second.ok());
    check_same(first.value(), second.value());
    return 0;
}
