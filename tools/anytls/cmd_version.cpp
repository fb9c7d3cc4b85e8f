// `anytls version`: the library version and the facts of this build, for bug reports.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "anytls_build_config.h"
#include "cli_build_facts.h"
#include "command.hpp"
#include "base/json_string.hpp"

namespace anytls::cli {
namespace {

constexpr std::array<OptionSpec, 1> kOptions{{
    {"json", "", "print one JSON object instead of text"},
}};

std::vector<std::pair<std::string_view, std::string>> build_facts() {
#ifdef NDEBUG
    const std::string assertions = "off";
#else
    const std::string assertions = "on";
#endif
    return {
        {"build type", ANYTLS_CLI_BUILD_TYPE},
        {"assertions", assertions},
        {"sanitizers", ANYTLS_CLI_SANITIZE},
        {"compiler", ANYTLS_CLI_COMPILER},
        {"C++ standard", ANYTLS_CLI_CPP_STD},
        {"host", ANYTLS_CLI_HOST},
        {"wolfSSL", ANYTLS_CLI_WOLFSSL},
        {"trace logging", ANYTLS_LOG_TRACE_ENABLED ? "compiled in" : "compiled out"},
        {"fmt", ANYTLS_CLI_FMT_VERSION},
        {"toml++", ANYTLS_CLI_TOML_VERSION},
    };
}

Result<void> run_version(const Invocation& invocation) {
    const auto facts = build_facts();
    std::string out;
    if (invocation.options.has("json")) {
        out = fmt::format("{{\"version\": {}", json_string(ANYTLS_VERSION_STRING));
        for (const auto& [name, value] : facts)
            out += fmt::format(", {}: {}", json_string(name), json_string(value));
        out += "}\n";
    } else {
        const Terminal& term = invocation.terminal;
        out = fmt::format("{} {}\n", term.paint("anytls", Style::bold),
                          term.paint(ANYTLS_VERSION_STRING, Style::bold));
        std::size_t width = 0;
        for (const auto& fact : facts) width = std::max(width, fact.first.size());
        for (const auto& [name, value] : facts)
            out += fmt::format("  {}  {}\n",
                               term.paint(fmt::format("{:<{}}", name, width), Style::dim), value);
    }
    std::fputs(out.c_str(), stdout);
    return {};
}

constexpr Command kVersion{
    .name = "version",
    .summary = "show the version of libanytls and the facts of this build",
    .usage = "anytls version [--json]",
    .description =
        "Prints the version, then how this build was made: build type, assertions, sanitizers,\n"
        "compiler, host, the wolfSSL libanytls uses (the fast recipe build with x86-64\n"
        "assembly, or the slow system library), trace logging and library versions.\n"
        "\"anytls --version\" is the same command.\n",
    .options = kOptions,
    .run = run_version,
};
const CommandRegistration kRegistration{kVersion};

}  // namespace
}  // namespace anytls::cli
