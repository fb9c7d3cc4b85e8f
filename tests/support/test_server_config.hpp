// The ServerConfig most tests start from: loopback, a free port, the test PKI's server
// certificate (test_certs.hpp) and one user. Tests change what they measure on the copy.
#pragma once

#include <string>

#include "server/server_config.hpp"
#include "support/test_certs.hpp"

namespace anytls::test {

inline server::ServerConfig loopback_server_config(std::string user, std::string password) {
    const auto& pki = test_pki();
    server::ServerConfig config;
    config.listen = "127.0.0.1:0";
    config.certificate_file = pki.server_cert;
    config.private_key_file = pki.server_key;
    config.users = {{std::move(user), std::move(password)}};
    return config;
}

}  // namespace anytls::test
