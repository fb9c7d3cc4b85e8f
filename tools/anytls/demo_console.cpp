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

bool stdout_is_live_terminal() {
    const char* term = std::getenv("TERM");
    if (term != nullptr && std::strcmp(term, "dumb") == 0) return false;
    return ::isatty(STDOUT_FILENO) == 1;
}

void DemoConsole::write(const std::string& text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
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

}  // namespace anytls::cli
