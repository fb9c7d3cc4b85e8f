// PEM files and PEM text for the TLS contexts: the CA bundle a client trusts, a server's
// certificate chain and its private key.
//
// One loader per kind of content serves both the contexts (tls_context.cpp) and the checks a
// configuration loader runs on its file keys (config::LoadOptions::check_ca_file and the
// server's check_certificate_file / check_private_key_file), so a file says the same thing at
// load time as at start, and a file that cannot be read and a file that holds no usable PEM
// are told apart:
//   cannot read "/etc/anytls/ca.pem": No such file or directory
//   "/etc/anytls/ca.pem" holds no valid PEM CA certificate (ASN no PEM header error)
// Errors carry errc::tls_config (a configuration problem, not a handshake one).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.hpp"

struct WOLFSSL_CTX;

namespace anytls::tls {

// PEM files are read up to this size; a larger file is refused (a CA bundle is ~200 KiB).
inline constexpr std::size_t kMaxPemFileBytes = 8 * 1024 * 1024;

enum class PemContent { ca_bundle, certificate_chain, private_key };

// Loads PEM text into ctx as `content`; `origin` names it in the message ("\"/x.pem\"",
// "the certificate text").
Result<void> load_pem(WOLFSSL_CTX* ctx, PemContent content, std::string_view pem,
                      std::string_view origin);
// Reads the file (a read error names the file and the errno text), then load_pem().
Result<void> load_pem_file(WOLFSSL_CTX* ctx, PemContent content, const std::string& path);

// The file is readable and holds what its key says, loaded into a throwaway context.
Result<void> check_ca_file(const std::string& path);
Result<void> check_certificate_file(const std::string& path);
Result<void> check_private_key_file(const std::string& path);

}  // namespace anytls::tls
