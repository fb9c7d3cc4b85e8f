// Reading a small file whole (a configuration, a PEM bundle), with errors that say why.
//
// The error is the file's -errno with the message `cannot read "PATH": <strerror>`: "No such
// file or directory", "Permission denied", "Is a directory" (a directory opens, but reading it
// fails; it is refused before that). Callers put the key or the role of the file in front.
#pragma once

#include <cstddef>
#include <string>

#include "base/result.hpp"

namespace anytls {

// The first `limit` bytes of the file (all of it when it is shorter). A caller that refuses
// files over a size asks for one byte more than it accepts, so a huge file is never read whole.
Result<std::string> read_file(const std::string& path, std::size_t limit);

}  // namespace anytls
