// The loopback half of `anytls demo`: an AnyTLS server (lib/server) with a fresh self-signed
// certificate and a TCP echo target, both on 127.0.0.1 with ports the kernel picks, on one
// reactor thread of their own (the client under test has another). The certificate is written
// to a temporary file for the client's ca-file, so the demo verifies TLS as a real client does;
// the file is removed when the backend is destroyed. Nothing listens beyond loopback.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.hpp"

namespace anytls::cli {

class DemoBackend {
public:
    static Result<std::unique_ptr<DemoBackend>> start();
    ~DemoBackend();  // stops both, removes the certificate file
    DemoBackend(const DemoBackend&) = delete;
    DemoBackend& operator=(const DemoBackend&) = delete;

    std::uint16_t server_port() const { return server_port_; }
    std::uint16_t echo_port() const { return echo_port_; }
    const std::string& password() const { return password_; }  // random, per run
    const std::string& ca_file() const { return ca_file_; }
    const std::string& fingerprint() const { return fingerprint_; }

private:
    struct State;
    DemoBackend() = default;
    std::unique_ptr<State> state_;
    std::uint16_t server_port_ = 0;
    std::uint16_t echo_port_ = 0;
    std::string password_;
    std::string ca_file_;
    std::string fingerprint_;
};

}  // namespace anytls::cli
