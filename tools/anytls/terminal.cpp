// Output styling (see terminal.hpp).
#include "terminal.hpp"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace anytls::cli {

Terminal Terminal::for_stdout() {
    if (std::getenv("NO_COLOR") != nullptr) return Terminal(false);
    const char* term = std::getenv("TERM");
    if (term != nullptr && std::strcmp(term, "dumb") == 0) return Terminal(false);
    return Terminal(::isatty(STDOUT_FILENO) == 1);
}

std::string Terminal::paint(std::string_view text, Style style) const {
    if (!colour_ || style == Style::plain || text.empty()) return std::string(text);
    const char* code = "";
    switch (style) {
        case Style::plain:
            break;
        case Style::bold:
            code = "1";
            break;
        case Style::dim:
            code = "2";
            break;
        case Style::red:
            code = "31";
            break;
        case Style::green:
            code = "32";
            break;
        case Style::yellow:
            code = "33";
            break;
        case Style::blue:
            code = "34";
            break;
        case Style::cyan:
            code = "36";
            break;
    }
    std::string out = "\x1b[";
    out += code;
    out += 'm';
    out += text;
    out += "\x1b[0m";
    return out;
}

}  // namespace anytls::cli
