// Test PKI generation with the openssl command (see test_certs.hpp).
#include "support/test_certs.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace anytls::test {

namespace {

void run(const std::string& command) {
    std::string full = command + " >/dev/null 2>&1";
    if (std::system(full.c_str()) != 0) {
        std::fprintf(stderr, "test PKI: command failed: %s\n", command.c_str());
        std::abort();
    }
}

void write_file(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TestPki generate() {
    char tmpl[] = "/tmp/anytls-test-pki-XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    TestPki p;
    p.dir = tmpl;
    const std::string d = p.dir + "/";
    p.ca_cert = d + "ca.pem";
    p.server_cert = d + "server.pem";
    p.server_key = d + "server.key";
    p.other_ca_cert = d + "other-ca.pem";
    p.expired_cert = d + "expired.pem";
    p.expired_key = d + "expired.key";
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    run("openssl req -x509 " + ec + " -keyout " + d + "ca.key -out " + p.ca_cert +
        " -days 3650 -subj /CN=anytls-test-ca");
    run("openssl req -x509 " + ec + " -keyout " + d + "other-ca.key -out " + p.other_ca_cert +
        " -days 3650 -subj /CN=anytls-other-ca");
    write_file(d + "san.ext",
               "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n"
               "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
               "extendedKeyUsage=serverAuth\n");
    run("openssl req " + ec + " -keyout " + p.server_key + " -out " + d +
        "server.csr -subj /CN=localhost");
    run("openssl x509 -req -in " + d + "server.csr -CA " + p.ca_cert + " -CAkey " + d +
        "ca.key -CAcreateserial -out " + p.server_cert + " -days 825 -extfile " + d + "san.ext");
    // An expired certificate: `openssl ca` takes explicit start and end dates.
    write_file(d + "ca.cnf", "[ca]\ndefault_ca=test\n[test]\ndir=" + p.dir + "\ndatabase=" + d +
                                 "index.txt\n"
                                 "new_certs_dir=" +
                                 p.dir + "\nserial=" + d +
                                 "serial\ndefault_md=sha256\n"
                                 "policy=any\ncopy_extensions=copy\n[any]\ncommonName=supplied\n");
    write_file(d + "index.txt", "");
    write_file(d + "serial", "1000\n");
    run("openssl req " + ec + " -keyout " + p.expired_key + " -out " + d +
        "expired.csr -subj /CN=localhost");
    run("openssl ca -batch -config " + d + "ca.cnf -cert " + p.ca_cert + " -keyfile " + d +
        "ca.key -in " + d + "expired.csr -out " + p.expired_cert +
        " -startdate 20200101000000Z -enddate 20200201000000Z -extfile " + d + "san.ext");
    return p;
}

// Removes the directory when the test process exits (only in the process that made it: a
// forked child that exits must not take the files from its parent).
struct OwnedPki {
    TestPki pki = generate();
    pid_t owner = ::getpid();
    ~OwnedPki() {
        if (::getpid() != owner) return;
        std::error_code ignored;
        std::filesystem::remove_all(pki.dir, ignored);
    }
};

}  // namespace

const TestPki& test_pki() {
    static const OwnedPki owned;
    return owned.pki;
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace anytls::test
