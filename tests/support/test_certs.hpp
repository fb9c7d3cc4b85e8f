// Test PKI: a CA, a server certificate it signs (DNS:localhost, IP:127.0.0.1, IP:::1), an
// unrelated CA, and an expired server certificate — generated once per test process with
// Debian's openssl command into a temporary directory.
#pragma once

#include <string>

namespace anytls::test {

struct TestPki {
    std::string dir;
    std::string ca_cert;      // trusted CA (PEM file path)
    std::string server_cert;  // signed by ca_cert, valid for localhost/127.0.0.1/::1
    std::string server_key;
    std::string other_ca_cert;  // a CA that signed nothing we serve
    std::string expired_cert;   // signed by ca_cert, notAfter in the past
    std::string expired_key;
};

// Generates on first use; aborts the test run with a message if openssl fails.
const TestPki& test_pki();

std::string read_file(const std::string& path);

}  // namespace anytls::test
