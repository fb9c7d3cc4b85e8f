// The registry of fd streams' end errors (see fd_stream_errors.hpp).
#include "client/fd_stream_errors.hpp"

#include <sys/stat.h>

#include <deque>
#include <mutex>
#include <utility>

namespace anytls::client {

namespace {

struct Registry {
    std::mutex mutex;
    std::deque<std::pair<ino_t, Error>> records;  // oldest first
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

ino_t socket_inode(int fd) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return 0;
    return st.st_ino;
}

void record_fd_stream_error(ino_t inode, Error error) {
    if (inode == 0) return;
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    std::erase_if(r.records, [&](const auto& record) { return record.first == inode; });
    if (r.records.size() >= kMaxFdStreamErrors) r.records.pop_front();
    r.records.emplace_back(inode, std::move(error));
}

std::optional<Error> fd_stream_error(int fd) {
    const ino_t inode = socket_inode(fd);
    if (inode == 0) return std::nullopt;
    auto& r = registry();
    std::lock_guard lock(r.mutex);
    for (const auto& [key, error] : r.records)
        if (key == inode) return error;
    return std::nullopt;
}

}  // namespace anytls::client
