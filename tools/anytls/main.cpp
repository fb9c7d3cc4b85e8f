// `anytls`: the command-line tool of libanytls (docs/DESIGN.md, "The CLI").
//
//   anytls <command> [options]
//
// This file only dispatches: it finds the command in the table that the cmd_*.cpp files fill
// (command.hpp), parses its options, runs it, and turns a failure into one line on stderr and
// a documented exit code. Nothing escapes main: an unexpected exception is reported as an
// internal error (exit 1), never as a stack trace or std::terminate.
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "command.hpp"
#include "completion_bash.hpp"
#include "config/suggest.hpp"
#include "man_page.hpp"

namespace anytls::cli {
namespace {

void print_error(std::string_view who, std::string_view message) {
    std::string line = fmt::format("{}: {}\n", who, message);
    std::fputs(line.c_str(), stderr);
}

std::string main_help() {
    std::string out =
        fmt::format("Usage: anytls <command> [options]\n\n{}\n\nCommands:\n", kToolSummary);
    const auto all = commands();
    std::size_t width = 0;
    for (const Command* command : all) width = std::max(width, command->name.size());
    for (const Command* command : all)
        out += fmt::format("  {:<{}}  {}\n", command->name, width, command->summary);
    out +=
        "\n"
        "Run \"anytls <command> --help\" for the options of one command.\n"
        "Colour is used only when stdout is a terminal and NO_COLOR is not set.\n"
        "\"anytls --generate completion-bash\" and \"anytls --generate man\" print the bash "
        "completion\n"
        "script and the man page, both made from the commands' option tables.\n"
        "\n";
    out += exit_codes_help();
    return out;
}

Error unknown_command(std::string_view name) {
    std::vector<std::string_view> names;
    std::string list;
    for (const Command* command : commands()) {
        names.push_back(command->name);
        if (!list.empty()) list += ", ";
        list += command->name;
    }
    if (auto suggestion = config::closest_name(name, names))
        return usage_error(
            fmt::format("unknown command \"{}\"; did you mean \"{}\"? (run \"anytls --help\")",
                        name, *suggestion));
    return usage_error(fmt::format(
        "unknown command \"{}\"; the commands are {} (run \"anytls --help\")", name, list));
}

int run_command(const Command& command, std::span<const std::string> args) {
    const std::string who = fmt::format("anytls {}", command.name);
    auto options = parse_options(args, command.options);
    if (!options) {
        print_error(who, fmt::format("{} (run \"{} --help\")", options.error().text(), who));
        return exit_usage;
    }
    if (options->help_requested()) {
        std::fputs(command_help(command).c_str(), stdout);
        return exit_ok;
    }
    if (command.arguments.empty() && !options->positionals().empty()) {
        print_error(
            who,
            fmt::format(
                "unexpected argument \"{}\"; this command takes options only (run \"{} --help\")",
                options->positionals().front(), who));
        return exit_usage;
    }
    const Terminal terminal = Terminal::for_stdout();
    const Invocation invocation{command.name, *options, terminal};
    auto result = command.run(invocation);
    if (std::fflush(stdout) != 0 && result) {
        print_error(who, "could not write the output");
        return exit_failure;
    }
    if (!result) {
        print_error(who, result.error().text());
        return exit_code_for(result.error());
    }
    return exit_ok;
}

// `anytls --generate completion-bash|man`: what meson installs, printed from the same tables
// that parse the command lines, so neither can fall behind an option (tools/anytls/meson.build).
int generate(std::span<const std::string> args) {
    const std::string what = args.size() > 1 ? args[1] : "";
    if (args.size() > 2) {
        print_error("anytls",
                    fmt::format("unexpected argument \"{}\" after --generate {}", args[2], what));
        return exit_usage;
    }
    std::string text;
    if (what == "completion-bash")
        text = bash_completion_script(commands());
    else if (what == "man")
        text = man_page(commands());
    else {
        print_error(
            "anytls",
            fmt::format("--generate expects \"completion-bash\" or \"man\", got \"{}\"", what));
        return exit_usage;
    }
    if (std::fputs(text.c_str(), stdout) < 0 || std::fflush(stdout) != 0) {
        print_error("anytls", "could not write the output");
        return exit_failure;
    }
    return exit_ok;
}

int run(int argc, char** argv) {
    std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
    if (args.empty()) {
        std::fputs(main_help().c_str(), stderr);
        return exit_usage;
    }
    const std::string& first = args[0];
    if (first == "-h" || first == "--help") {
        std::fputs(main_help().c_str(), stdout);
        return exit_ok;
    }
    // `anytls help [command]` and `anytls --version` as conventional aliases.
    if (first == "help") {
        if (args.size() == 1) {
            std::fputs(main_help().c_str(), stdout);
            return exit_ok;
        }
        const Command* command = find_command(args[1]);
        if (command == nullptr) {
            print_error("anytls", unknown_command(args[1]).message);
            return exit_usage;
        }
        std::fputs(command_help(*command).c_str(), stdout);
        return exit_ok;
    }
    if (first == "--generate") return generate(args);
    if (first == "--version") args[0] = "version";
    if (!args[0].empty() && args[0][0] == '-') {
        print_error("anytls",
                    fmt::format("expected a command before the option {} (run \"anytls --help\")",
                                args[0]));
        return exit_usage;
    }
    const Command* command = find_command(args[0]);
    if (command == nullptr) {
        print_error("anytls", unknown_command(args[0]).message);
        return exit_usage;
    }
    return run_command(*command, std::span<const std::string>(args).subspan(1));
}

}  // namespace
}  // namespace anytls::cli

int main(int argc, char** argv) {
    try {
        return anytls::cli::run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "anytls: internal error: %s\n", e.what());
    } catch (...) {
        std::fputs("anytls: internal error\n", stderr);
    }
    return anytls::cli::exit_failure;
}
