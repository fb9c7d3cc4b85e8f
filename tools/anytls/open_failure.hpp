// Why a stream through a proxy could not be opened, as one sentence and an exit code
// (command.hpp: 4 unreachable, 5 TLS, 6 authentication, 7 target, 8 timeout).
//
// The AnyTLS server answers a wrong password by closing the connection (or relaying it to a
// fallback service), never with a message, so the client only sees the session end before its
// stream opened; that is reported as an authentication failure with a question mark.
#pragma once

#include <string>

#include "base/result.hpp"
#include "config/config.hpp"

namespace anytls::cli {

// `error`: what Client::open_stream returned; `target`: "host:port" of the stream;
// `timeout`: the open's timeout, for the message.
Error explain_open_failure(const Error& error, const config::ProxyConfig& proxy,
                           const std::string& target, std::string_view timeout);

}  // namespace anytls::cli
