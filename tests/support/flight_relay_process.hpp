// FlightRelayProcess: runs tests/support/flight_relay as a child process and speaks its line
// protocol (hold, release, pass, stats), for C++ tests that count round trips. The binary is
// named by the ANYTLS_FLIGHT_RELAY environment variable (meson sets it).
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>

namespace anytls::test {

struct FlightStats {
    std::size_t accepted = 0;       // connections accepted since the relay started
    std::size_t open = 0;           // connections still open
    std::size_t flights = 0;        // releases so far
    std::size_t held_s2c = 0;       // server -> client bytes held now
    std::size_t forwarded_s2c = 0;  // server -> client bytes forwarded so far
    std::size_t forwarded_c2s = 0;
    std::size_t records_c2s = 0;  // TLS records the clients began
    std::size_t records_s2c = 0;
    bool holding = false;
};

class FlightRelayProcess {
public:
    FlightRelayProcess() = default;
    FlightRelayProcess(const FlightRelayProcess&) = delete;
    FlightRelayProcess& operator=(const FlightRelayProcess&) = delete;
    ~FlightRelayProcess() { stop(); }

    // Starts the relay in front of 127.0.0.1:upstream_port and reads its port; false (with
    // `error` set) when it does not start.
    bool start(const std::string& exe, std::uint16_t upstream_port, std::string* error) {
        int to_child[2];
        int from_child[2];
        // Close-on-exec, so that no other child (an earlier relay, the server) keeps these
        // pipes open and the relay always sees the end of its stdin.
        if (::pipe2(to_child, O_CLOEXEC) != 0 || ::pipe2(from_child, O_CLOEXEC) != 0)
            return fail(error, "pipe failed");
        pid_ = ::fork();
        if (pid_ < 0) return fail(error, "fork failed");
        if (pid_ == 0) {
            ::dup2(to_child[0], STDIN_FILENO);
            ::dup2(from_child[1], STDOUT_FILENO);
            const std::string port = std::to_string(upstream_port);
            ::execl(exe.c_str(), exe.c_str(), port.c_str(), (char*)nullptr);
            std::_Exit(127);
        }
        ::close(to_child[0]);
        ::close(from_child[1]);
        commands_ = ::fdopen(to_child[1], "w");
        replies_ = ::fdopen(from_child[0], "r");
        const std::string first = read_line();
        if (first.rfind("port ", 0) != 0)
            return fail(error, "flight_relay did not report its port: '" + first + "'");
        port_ = static_cast<std::uint16_t>(std::stoi(first.substr(5)));
        return true;
    }

    std::uint16_t port() const { return port_; }

    void hold() { command("hold"); }
    void pass() { command("pass"); }
    // Lets one flight through; returns the number of releases so far.
    std::size_t release() {
        auto fields = parse(command("release"));
        return fields["flight"];
    }
    FlightStats stats() {
        auto f = parse(command("stats"));
        FlightStats s;
        s.accepted = f["accepted"];
        s.open = f["open"];
        s.flights = f["flights"];
        s.held_s2c = f["held_s2c"];
        s.forwarded_s2c = f["forwarded_s2c"];
        s.forwarded_c2s = f["forwarded_c2s"];
        s.records_c2s = f["records_c2s"];
        s.records_s2c = f["records_s2c"];
        s.holding = f["holding"] != 0;
        return s;
    }

    // Sends one command and returns its reply line ("" if the relay is gone).
    std::string command(const std::string& line) {
        if (!commands_) return "";
        std::fputs((line + "\n").c_str(), commands_);
        std::fflush(commands_);
        return read_line();
    }

    void stop() {
        if (commands_) {
            std::fputs("quit\n", commands_);
            std::fclose(commands_);  // the end of stdin ends the relay too
            commands_ = nullptr;
        }
        if (replies_) {
            std::fclose(replies_);
            replies_ = nullptr;
        }
        if (pid_ > 0) {
            int status = 0;
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
        }
    }

private:
    static bool fail(std::string* error, const std::string& why) {
        if (error) *error = why;
        return false;
    }

    std::string read_line() {
        char line[1024];
        if (!replies_ || !std::fgets(line, sizeof line, replies_)) return "";
        std::string text(line);
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        return text;
    }

    // "word key=value key=value" -> {key: value}
    static std::map<std::string, std::size_t> parse(const std::string& reply) {
        std::map<std::string, std::size_t> fields;
        std::istringstream words(reply);
        std::string word;
        while (words >> word) {
            const auto eq = word.find('=');
            if (eq == std::string::npos) continue;
            fields[word.substr(0, eq)] = std::stoull(word.substr(eq + 1));
        }
        return fields;
    }

    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
    FILE* commands_ = nullptr;
    FILE* replies_ = nullptr;
};

}  // namespace anytls::test
