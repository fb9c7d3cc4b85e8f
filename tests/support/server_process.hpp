// `anytls server` as a child process for end-to-end tests: started with a TOML config, its
// port read from its "listening on" line; kill() sends a signal and reaps it. The binary is
// named by the ANYTLS_EXE environment variable (meson sets it).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <string>

namespace anytls::test {

class ServerProcess {
public:
    ServerProcess() = default;
    ServerProcess(const ServerProcess&) = delete;
    ServerProcess& operator=(const ServerProcess&) = delete;
    ~ServerProcess() { kill(SIGTERM); }

    // Starts the server and waits for its "listening on 127.0.0.1:PORT" line; false (with
    // `error` set) when it exits first.
    bool start(const std::string& exe, const std::string& config_path, std::string* error) {
        int out[2];
        if (::pipe(out) != 0) return false;
        pid_ = ::fork();
        if (pid_ < 0) return false;
        if (pid_ == 0) {
            ::dup2(out[1], STDOUT_FILENO);
            ::close(out[0]);
            ::close(out[1]);
            ::execl(exe.c_str(), exe.c_str(), "server", "--config", config_path.c_str(),
                    (char*)nullptr);
            std::_Exit(127);
        }
        ::close(out[1]);
        FILE* f = ::fdopen(out[0], "r");
        char line[512];
        std::regex listening("listening on 127\\.0\\.0\\.1:([0-9]+)");
        std::string all;
        while (std::fgets(line, sizeof(line), f)) {
            all += line;
            std::cmatch m;
            if (std::regex_search(line, m, listening)) {
                port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
                break;
            }
        }
        std::fclose(f);  // later output goes to a closed pipe; the server logs little at warning
        if (port_ == 0) {
            if (error) *error = "anytls server did not report its port: " + all;
            kill(SIGKILL);
            return false;
        }
        return true;
    }

    void kill(int signal) {
        if (pid_ <= 0) return;
        ::kill(pid_, signal);
        int status = 0;
        ::waitpid(pid_, &status, 0);
        pid_ = -1;
    }

    std::uint16_t port() const { return port_; }
    bool running() const { return pid_ > 0; }

private:
    pid_t pid_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace anytls::test
