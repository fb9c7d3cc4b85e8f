// The bash completion script of the `anytls` tool, made from the command table (command.hpp):
// `anytls --generate completion-bash` prints it and meson installs it as
// share/bash-completion/completions/anytls. It completes the subcommands, each one's options,
// the fixed values of an option that has them (OptionSpec::choices) and file names after an
// option whose value is a FILE. Plain bash: it needs neither the bash-completion package's
// helpers nor anything else at completion time.
#pragma once

#include <string>
#include <vector>

#include "command.hpp"

namespace anytls::cli {

// Defines the function _anytls and registers it with `complete -F _anytls anytls`.
std::string bash_completion_script(const std::vector<const Command*>& commands);

}  // namespace anytls::cli
