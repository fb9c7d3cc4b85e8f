// The `anytls` command-line tool: the table of subcommands and what each one declares.
//
// `anytls <command> [options]`. Each subcommand lives in one file, tools/anytls/cmd_<name>.cpp,
// which defines a Command and registers it with a file-scope CommandRegistration; main.cpp
// knows no command by name. Adding `anytls socks` is adding cmd_socks.cpp to meson.build.
// The cmd_*.cpp files must be compiled into the executable itself, not pulled from a static
// library: a linker drops library objects nothing refers to, registration included.
//
// A command's run function returns a Result<void>: errors are values here too (docs/DESIGN.md,
// "Errors are values"). main.cpp turns an error into one line on stderr and an exit code chosen
// by the error's kind (exit_code_for, from the one table of base/error_kind.hpp): an invalid
// argument is a usage error, a configuration error (a CA file, key or certificate too) has its
// code, the unreachable server, TLS, authentication or Alert, target and timeout kinds have
// theirs (4 to 8), anything else is a runtime failure.
#pragma once

#include <cerrno>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/errors.hpp"
#include "base/result.hpp"
#include "options.hpp"
#include "terminal.hpp"

namespace anytls::cli {

// What the tool is, in one line: the main help's and the man page's first sentence.
inline constexpr std::string_view kToolSummary =
    "The AnyTLS proxy protocol with a managed session pool: tools around libanytls.";

// Exit codes, the same for every command and listed in every --help.
enum ExitCode : int {
    exit_ok = 0,
    exit_failure = 1,       // the command ran and failed (a file could not be written, ...)
    exit_usage = 2,         // bad command line: unknown command or option, missing or bad value
    exit_config_error = 3,  // the configuration file could not be read or is invalid
    // Network outcomes of commands that reach a proxy (smoke, demo); see exit_code_for.
    exit_unreachable =
        4,         // the proxy server could not be reached (refused, unreachable, unknown name)
    exit_tls = 5,  // TLS failed: the certificate could not be verified, or the handshake failed
    exit_server_closed =
        6,             // the server closed the session: an Alert, or at once (wrong password?)
    exit_target = 7,   // the server could not connect to the target (refused, unreachable)
    exit_timeout = 8,  // no answer in time
};

// What each code above means, in order: the help footer and the man page are made from it.
struct ExitCodeMeaning {
    int code;
    std::string_view meaning;
};
std::span<const ExitCodeMeaning> exit_code_meanings();

// The help footer that documents the codes above ("Exit codes:" and one line per code).
std::string exit_codes_help();

int exit_code_for(const Error& error);

// Usage and configuration errors, as values the caller returns.
inline Error usage_error(std::string message) {
    return make_error(errc::invalid_argument, std::move(message));
}
inline Error config_error(std::string message) {
    return make_error(errc::config, std::move(message));
}
// A runtime failure keeps its -errno code when there is one.
inline Error runtime_error(std::string message, int code = -EIO) {
    return make_error(code, std::move(message));
}

// What a command gets to run with: its parsed options and the output style for stdout.
struct Invocation {
    std::string_view command;  // "plan"
    const ParsedOptions& options;
    const Terminal& terminal;
};

struct Command {
    std::string_view name;                // "plan"
    std::string_view summary;             // one line for `anytls --help`
    std::string_view usage;               // "anytls plan --config FILE [options]"
    std::string_view description;         // paragraphs shown by `anytls <name> --help`
    std::span<const OptionSpec> options;  // --help is added by the framework
    Result<void> (*run)(const Invocation& invocation);
    // Name of the arguments after the options ("TARGET..."); empty: the framework refuses any.
    std::string_view arguments = {};
};

// Registers a command at static initialisation. Names must be unique.
struct CommandRegistration {
    explicit CommandRegistration(const Command& command);
};

// Every registered command, sorted by name.
std::vector<const Command*> commands();
const Command* find_command(std::string_view name);

// The full `anytls <name> --help` text.
std::string command_help(const Command& command);

}  // namespace anytls::cli
