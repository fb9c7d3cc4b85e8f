// Reading a small file whole (see read_file.hpp).
#include "base/read_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace anytls {

namespace {

Error read_error(const std::string& path, int error) {
    return make_error(-error, "cannot read \"" + path + "\": " + std::strerror(error));
}

}  // namespace

Result<std::string> read_file(const std::string& path, std::size_t limit) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return read_error(path, errno);
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat status {};
    if (::fstat(fd, &status) != 0) return read_error(path, errno);
    if (S_ISDIR(status.st_mode)) return read_error(path, EISDIR);
    std::string text;
    char buffer[16384];
    while (text.size() < limit) {
        const std::size_t wanted = std::min(sizeof buffer, limit - text.size());
        const ssize_t got = ::read(fd, buffer, wanted);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return read_error(path, errno);
        if (got == 0) break;
        text.append(buffer, static_cast<std::size_t>(got));
    }
    return text;
}

}  // namespace anytls
