// The loaders over real files in a temporary directory: what a file that cannot be read says
// (the errno text), the file keys checked at load time (ca-file; certificate and private-key)
// with their key and line, PEM errors told apart from file errors, and the one size limit of
// configuration input (config/input_limit.hpp).
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "base/errors.hpp"
#include "config/config.hpp"
#include "config/input_limit.hpp"
#include "config/server_config_loader.hpp"
#include "config/share_link.hpp"
#include "tls/pem_files.hpp"
#include "tls/self_signed.hpp"

using namespace anytls;
using namespace anytls::config;

namespace {

// A fresh directory under $TMPDIR, removed with everything in it at the end of the test.
struct TempDir {
    std::filesystem::path path;
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "anytls-config-XXXXXX").string();
        REQUIRE(::mkdtemp(pattern.data()) != nullptr);
        path = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string write(const std::string& name, const std::string& text) const {
        const auto file = path / name;
        std::ofstream(file, std::ios::binary) << text;
        return file.string();
    }
    std::string make_directory(const std::string& name) const {
        std::filesystem::create_directory(path / name);
        return (path / name).string();
    }
};

const tls::SelfSignedCertificate& certificate() {
    static const tls::SelfSignedCertificate generated = [] {
        auto made = tls::generate_self_signed({"localhost"});
        REQUIRE(made.ok());
        return std::move(made).value();
    }();
    return generated;
}

std::string proxy_with_ca(const std::string& ca_file, const std::string& extra = "") {
    // ca-file on line 7.
    return "[[proxies]]\nname = \"a\"\ntype = \"anytls\"\nserver = \"127.0.0.1\"\nport = "
           "8443\npassword = \"p\"\n"
           "ca-file = \"" +
           ca_file + "\"\n" + extra;
}

LoadOptions checking_options() {
    LoadOptions options;
    options.check_ca_file = tls::check_ca_file;
    return options;
}

std::string server_with(const std::string& certificate_file, const std::string& key_file) {
    // certificate on line 2, private-key on line 3.
    return "listen = \"127.0.0.1:0\"\ncertificate = \"" + certificate_file +
           "\"\nprivate-key = \"" + key_file + "\"\n[[users]]\nname = \"u\"\npassword = \"p\"\n";
}

ServerLoadOptions checking_server_options() {
    ServerLoadOptions options;
    options.check_certificate_file = tls::check_certificate_file;
    options.check_private_key_file = tls::check_private_key_file;
    return options;
}

}  // namespace

TEST_SUITE("config files") {
    TEST_CASE("a configuration file that cannot be read says why, with the errno text") {
        TempDir dir;
        auto missing = load_config_file((dir.path / "missing.toml").string());
        REQUIRE_FALSE(missing.ok());
        CHECK(missing.code() == -ENOENT);
        CHECK(missing.error().message == "cannot read configuration file \"" +
                                             (dir.path / "missing.toml").string() +
                                             "\": No such file or directory");

        const std::string directory = dir.make_directory("conf.d");
        auto client = load_config_file(directory);
        REQUIRE_FALSE(client.ok());
        CHECK(client.code() == -EISDIR);
        CHECK(client.error().message ==
              "cannot read configuration file \"" + directory + "\": Is a directory");
        auto server = load_server_config_file(directory);
        REQUIRE_FALSE(server.ok());
        CHECK(server.code() == -EISDIR);
        CHECK(server.error().message ==
              "cannot read configuration file \"" + directory + "\": Is a directory");

        if (::geteuid() != 0) {  // root reads any file
            const std::string locked = dir.write("locked.toml", "log-level = \"info\"\n");
            REQUIRE(::chmod(locked.c_str(), 0) == 0);
            auto denied = load_config_file(locked);
            REQUIRE_FALSE(denied.ok());
            CHECK(denied.code() == -EACCES);
            CHECK(denied.error().message.find("Permission denied") != std::string::npos);
        }
    }

    TEST_CASE("ca-file is checked at load time: the key, the line and the cause") {
        TempDir dir;
        SUBCASE("missing") {
            auto loaded = load_config(proxy_with_ca("/nonexistent/ca.pem"), checking_options());
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.code() == errc::config);
            CHECK(loaded.error().message ==
                  "proxy \"a\": key \"ca-file\" (line 7): cannot read \"/nonexistent/ca.pem\": No "
                  "such file or directory");
        }
        SUBCASE("a directory") {
            const std::string directory = dir.make_directory("certs");
            auto loaded = load_config(proxy_with_ca(directory), checking_options());
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.error().message ==
                  "proxy \"a\": key \"ca-file\" (line 7): cannot read \"" + directory +
                      "\": Is a directory");
        }
        SUBCASE("not PEM: a parse error, not a file error") {
            const std::string file = dir.write("ca.pem", "this is not a certificate\n");
            auto loaded = load_config(proxy_with_ca(file), checking_options());
            REQUIRE_FALSE(loaded.ok());
            const std::string& message = loaded.error().message;
            CHECK(message.rfind("proxy \"a\": key \"ca-file\" (line 7): \"" + file +
                                    "\" holds no valid PEM CA certificate (",
                                0) == 0);
            CHECK(message.find("cannot read") == std::string::npos);
            CHECK(message.find("unknown error number") == std::string::npos);
        }
        SUBCASE("empty") {
            const std::string file = dir.write("empty.pem", "");
            auto loaded = load_config(proxy_with_ca(file), checking_options());
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.error().message ==
                  "proxy \"a\": key \"ca-file\" (line 7): \"" + file +
                      "\" holds no valid PEM CA certificate (it is empty)");
        }
        SUBCASE("a real CA certificate loads") {
            const std::string file = dir.write("ca.pem", certificate().certificate_pem);
            auto loaded = load_config(proxy_with_ca(file), checking_options());
            REQUIRE(loaded.ok());
            CHECK(loaded->proxies.front().ca_file == file);
        }
        SUBCASE("not read when certificates are not verified, nor without a check") {
            CHECK(load_config(proxy_with_ca("/nonexistent/ca.pem", "skip-cert-verify = true\n"),
                              checking_options())
                      .ok());
            CHECK(load_config(proxy_with_ca("/nonexistent/ca.pem")).ok());
        }
    }

    TEST_CASE("load_config_file passes the check on, and the file name comes first") {
        TempDir dir;
        const std::string path = dir.write("client.toml", proxy_with_ca("/nonexistent/ca.pem"));
        auto loaded = load_config_file(path, checking_options());
        REQUIRE_FALSE(loaded.ok());
        CHECK(loaded.error().message.find(
                  "key \"ca-file\" (line 7): cannot read \"/nonexistent/ca.pem\"") !=
              std::string::npos);
    }

    TEST_CASE(
        "server certificate and private-key: a missing file and a non-PEM file say different "
        "things") {
        TempDir dir;
        const std::string cert = dir.write("server.pem", certificate().certificate_pem);
        const std::string key = dir.write("server.key", certificate().private_key_pem);
        const std::string junk = dir.write("junk.pem", "not PEM at all\n");
        SUBCASE("both real: loads") {
            CHECK(load_server_config(server_with(cert, key), checking_server_options()).ok());
        }
        SUBCASE("certificate missing") {
            auto loaded = load_server_config(server_with("/nonexistent/server.pem", key),
                                             checking_server_options());
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.error().message ==
                  "top level: key \"certificate\" (line 2): cannot read "
                  "\"/nonexistent/server.pem\": No such file or directory");
        }
        SUBCASE("certificate not PEM") {
            auto loaded = load_server_config(server_with(junk, key), checking_server_options());
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.error().message.rfind("top level: key \"certificate\" (line 2): \"" +
                                                   junk +
                                                   "\" holds no valid PEM certificate chain (",
                                               0) == 0);
        }
        SUBCASE("private key missing") {
            auto loaded = load_server_config(server_with(cert, "/nonexistent/server.key"),
                                             checking_server_options());
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.error().message ==
                  "top level: key \"private-key\" (line 3): cannot read "
                  "\"/nonexistent/server.key\": No such file or directory");
        }
        SUBCASE("a certificate given as the private key") {
            auto loaded = load_server_config(server_with(cert, cert), checking_server_options());
            REQUIRE_FALSE(loaded.ok());
            CHECK(loaded.error().message.rfind("top level: key \"private-key\" (line 3): \"" +
                                                   cert + "\" holds no valid PEM private key (",
                                               0) == 0);
        }
    }

    TEST_CASE("one size limit for every configuration input") {
        TempDir dir;
        // A 50 MB password in a file: refused after reading 1 MiB + 1 bytes, not parsed.
        std::string big =
            "[[proxies]]\nname = \"a\"\ntype = \"anytls\"\nserver = \"h\"\nport = 1\npassword = \"";
        big.append(kMaxConfigBytes, 'x');
        big += "\"\n";
        const std::string path = dir.write("big.toml", big);
        const std::string expected_tail =
            ": larger than 1 MiB (1048576 bytes), the limit of a configuration";
        auto client_file = load_config_file(path);
        REQUIRE_FALSE(client_file.ok());
        CHECK(client_file.code() == errc::config);
        CHECK(client_file.error().message == path + expected_tail);
        auto server_file = load_server_config_file(path);
        REQUIRE_FALSE(server_file.ok());
        CHECK(server_file.error().message == path + expected_tail);
        // The same text given as a string (the C API's anytls_client_open).
        auto client_text = load_config(big);
        REQUIRE_FALSE(client_text.ok());
        CHECK(client_text.error().message == "config" + expected_tail);
        auto server_text = load_server_config(big, ServerLoadOptions{"server.toml", {}, {}, {}});
        REQUIRE_FALSE(server_text.ok());
        CHECK(server_text.error().message == "server.toml" + expected_tail);
        auto link =
            parse_share_link("anytls://" + std::string(kMaxConfigBytes, 'p') + "@127.0.0.1:443");
        REQUIRE_FALSE(link.ok());
        CHECK(link.error().message == "share link" + expected_tail);

        // Up to the limit is fine: a configuration padded with a comment to exactly 1 MiB.
        std::string exact = "log-level = \"info\"\n#";
        exact.append(kMaxConfigBytes - exact.size() - 1, 'c');
        exact += "\n";
        REQUIRE(exact.size() == kMaxConfigBytes);
        CHECK(load_config_file(dir.write("exact.toml", exact)).ok());
    }

}  // TEST_SUITE
