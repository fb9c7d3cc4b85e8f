// The one size limit of configuration input, and the one reader of configuration files.
//
// Every configuration text goes through check_config_size() before it is parsed: the client
// TOML (file or C API string), the server TOML (the CLI's file and the C API's embedded
// server), and share links (`--uri`, a proxy's `uri` key). A real configuration is a few KiB;
// the limit stops a wrong file or a runaway value (a 50 MB password) before the parser copies
// it several times over.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace anytls::config {

inline constexpr std::size_t kMaxConfigBytes = 1024 * 1024;

// errc::config "<source>: larger than 1 MiB (1048576 bytes), the limit of a configuration"
// when `size` is over kMaxConfigBytes.
Result<void> check_config_size(std::size_t size, std::string_view source);

// The text of a configuration file, read up to one byte past the limit (so an oversized file
// is refused by check_config_size without being read whole). A file that cannot be read is a
// -errno error: `cannot read configuration file "PATH": Is a directory`.
Result<std::string> read_config_file(const std::string& path);

}  // namespace anytls::config
