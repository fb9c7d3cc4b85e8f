// The output of `anytls demo`: log lines as they happen plus one status line. On a terminal
// the status line is redrawn in place (carriage return + erase line) and a log line is printed
// above it; elsewhere (a pipe, a file, CI) every status is a plain line of its own, and the
// caller prints them less often. Thread-safe: the pool logs from the client's reactor thread.
// `anytls plan` uses it on stderr for its progress line.
#pragma once

#include <cstdio>
#include <mutex>
#include <string>

namespace anytls::cli {

class DemoConsole {
public:
    explicit DemoConsole(bool live, std::FILE* out = stdout) : live_(live), out_(out) {}
    ~DemoConsole() { end_status(); }

    bool live() const { return live_; }
    // A whole line (log line, heading, summary), above the status line when there is one.
    void line(const std::string& text);
    // The status: redrawn in place when live, else printed as a line.
    void status(const std::string& text);
    // Leaves the live status line where it is and moves below it.
    void end_status();
    // Erases the live status line, for a status that is only wanted while it is current.
    void clear_status();

private:
    void write(const std::string& text);
    std::mutex mutex_;
    bool live_ = false;
    std::FILE* out_ = stdout;
    std::string status_;  // the live status line on screen; empty: none
};

// The descriptor is a terminal (and TERM is not "dumb"): live redraws make sense.
bool is_live_terminal(int fd);
bool stdout_is_live_terminal();

}  // namespace anytls::cli
