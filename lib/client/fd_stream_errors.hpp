// Why a stream handed out as a socket (Stream::into_fd) ended, for the caller's end.
//
// A socket pair can carry bytes and an end, not an error: a target the server refused after
// the open was handed out (opens do not wait for the SYNACK, docs/DESIGN.md, "Opening a
// stream"), or a session that failed mid-stream, would read as a clean end. The relay records
// the error here under the caller's socket (its inode, which stays unique while the socket is
// open), and the bindings ask for it when a read ends, so that a refusal still surfaces as
// TARGET_REFUSED. Bounded: the oldest records are dropped past kMaxRecords. Any thread.
#pragma once

#include <optional>
#include <sys/types.h>

#include "base/result.hpp"

namespace anytls::client {

inline constexpr std::size_t kMaxFdStreamErrors = 4096;

// The inode of the socket `fd` (0 if fstat fails).
ino_t socket_inode(int fd);
void record_fd_stream_error(ino_t inode, Error error);
// The error the stream behind `fd` ended with, if it ended with one.
std::optional<Error> fd_stream_error(int fd);

}  // namespace anytls::client
