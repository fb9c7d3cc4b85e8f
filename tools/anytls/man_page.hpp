// The man page anytls(1), made from the command table (command.hpp): `anytls --generate man`
// prints it in roff (man macros) and meson installs it as share/man/man1/anytls.1. Each
// command's section is its --help: usage, summary, description and the option table, so the
// page says what the binary it was made from accepts.
#pragma once

#include <string>
#include <vector>

#include "command.hpp"

namespace anytls::cli {

std::string man_page(const std::vector<const Command*>& commands);

}  // namespace anytls::cli
