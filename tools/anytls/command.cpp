// The subcommand table of the `anytls` tool (see command.hpp).
#include "command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "base/error_kind.hpp"

namespace anytls::cli {

namespace {

// A function-local table: registrations run during static initialisation of other files, in
// an order the language leaves open, so the table must exist before the first of them.
std::vector<const Command*>& table() {
    static std::vector<const Command*> registered;
    return registered;
}

}  // namespace

std::span<const ExitCodeMeaning> exit_code_meanings() {
    static constexpr ExitCodeMeaning kMeanings[] = {
        {exit_ok, "success"},
        {exit_failure,
         "runtime failure (the command ran and failed, e.g. a file could not be written)"},
        {exit_usage, "usage error (unknown command or option, missing or malformed value)"},
        {exit_config_error,
         "configuration error (the file could not be read, or a key is invalid)"},
        {exit_unreachable,
         "the proxy server could not be reached (connection refused, no route, unknown name)"},
        {exit_tls, "TLS failed (the certificate could not be verified, or the handshake failed)"},
        {exit_server_closed,
         "the server closed the session: with an Alert, or at once (a wrong password looks like "
         "this)"},
        {exit_target, "the server could not connect to the target (refused or unreachable)"},
        {exit_timeout, "timed out"},
    };
    return kMeanings;
}

std::string exit_codes_help() {
    std::string out = "Exit codes:\n";
    for (const ExitCodeMeaning& row : exit_code_meanings())
        out += fmt::format("  {}  {}\n", row.code, row.meaning);
    return out;
}

// From the one table of error kinds (base/error_kind.hpp), as the C ABI's codes and the SOCKS
// entry's answers are.
int exit_code_for(const Error& error) {
    switch (error_kind(error.code)) {
        case ErrorKind::invalid_argument:
            return exit_usage;
        case ErrorKind::config:
            return exit_config_error;
        case ErrorKind::unreachable:
            return exit_unreachable;
        case ErrorKind::tls:
        case ErrorKind::tls_verify:
            return exit_tls;
        case ErrorKind::auth:
        case ErrorKind::alert:
            return exit_server_closed;
        case ErrorKind::timeout:
            return exit_timeout;
        case ErrorKind::target_refused:
            return exit_target;
        default:
            return exit_failure;
    }
}

CommandRegistration::CommandRegistration(const Command& command) {
    auto& registered = table();
    const bool duplicate = std::any_of(registered.begin(), registered.end(),
                                       [&](const Command* c) { return c->name == command.name; });
    if (duplicate) {
        // A build mistake (two cmd_*.cpp files with one name), caught the first time it runs.
        std::fprintf(stderr, "anytls: internal error: command \"%.*s\" registered twice\n",
                     static_cast<int>(command.name.size()), command.name.data());
        std::abort();
    }
    registered.push_back(&command);
}

std::vector<const Command*> commands() {
    std::vector<const Command*> sorted = table();
    std::sort(sorted.begin(), sorted.end(),
              [](const Command* a, const Command* b) { return a->name < b->name; });
    return sorted;
}

const Command* find_command(std::string_view name) {
    for (const Command* command : table())
        if (command->name == name) return command;
    return nullptr;
}

std::string command_help(const Command& command) {
    // The summary is written for the command list ("show the version ..."); as the help's
    // first sentence it gets a capital and a full stop.
    std::string sentence(command.summary);
    if (!sentence.empty() && sentence[0] >= 'a' && sentence[0] <= 'z')
        sentence[0] = static_cast<char>(sentence[0] - 'a' + 'A');
    std::string out = fmt::format("Usage: {}\n\n{}.\n", command.usage, sentence);
    if (!command.description.empty()) out += fmt::format("\n{}", command.description);
    if (!out.ends_with('\n')) out += '\n';
    out += "\nOptions:\n";
    out += options_help(command.options);
    out += '\n';
    out += exit_codes_help();
    return out;
}

}  // namespace anytls::cli
