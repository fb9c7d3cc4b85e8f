// Output styling for the `anytls` tool: colour only when stdout is a terminal and NO_COLOR is
// not set (https://no-color.org), so pipes, files and CI logs get plain text.
#pragma once

#include <string>
#include <string_view>

namespace anytls::cli {

enum class Style { plain, bold, dim, red, green, yellow, blue, cyan };

class Terminal {
public:
    // Decides from stdout (isatty), NO_COLOR and TERM=dumb.
    static Terminal for_stdout();
    explicit Terminal(bool colour) : colour_(colour) {}

    bool colour() const { return colour_; }
    // The text wrapped in the style's escape sequence, or unchanged without colour.
    std::string paint(std::string_view text, Style style) const;

private:
    bool colour_ = false;
};

}  // namespace anytls::cli
