// Status line and log lines of `anytls demo` (see demo_console.hpp).
#include "demo_console.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace anytls::cli {

namespace {
constexpr const char* kEraseLine = "\r\x1b[K";
}

bool is_live_terminal(int fd) {
    const char* term = std::getenv("TERM");
    if (term != nullptr && std::strcmp(term, "dumb") == 0) return false;
    return ::isatty(fd) == 1;
}

bool stdout_is_live_terminal() { return is_live_terminal(STDOUT_FILENO); }

void DemoConsole::write(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), out_);
    std::fflush(out_);
}

void DemoConsole::line(const std::string& text) {
    std::lock_guard lock(mutex_);
    if (live_ && !status_.empty()) {
        write(kEraseLine + text + "\n" + status_);
    } else {
        write(text + "\n");
    }
}

void DemoConsole::status(const std::string& text) {
    std::lock_guard lock(mutex_);
    if (live_) {
        status_ = text;
        write(kEraseLine + status_);
    } else {
        write(text + "\n");
    }
}

void DemoConsole::end_status() {
    std::lock_guard lock(mutex_);
    if (live_ && !status_.empty()) write("\n");
    status_.clear();
}

void DemoConsole::clear_status() {
    std::lock_guard lock(mutex_);
    if (live_ && !status_.empty()) write(kEraseLine);
    status_.clear();
}

}  // namespace anytls::cli
