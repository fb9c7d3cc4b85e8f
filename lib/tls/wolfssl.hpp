// The one place that includes wolfSSL's headers, in the order they require
// (options.h first, so the library's build configuration is seen by ssl.h).
#pragma once

#include <string>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/error-ssl.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

namespace anytls::tls {
// wolfSSL_Init() once per process; safe from any thread.
void ensure_wolfssl_initialized();
// wolfSSL's text for one of its error codes (either sign).
std::string wolfssl_error_text(int code);
}  // namespace anytls::tls
