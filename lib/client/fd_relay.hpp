// A stream handed over to a socket pair: the caller gets one end, the reactor relays the other
// to the stream until either side closes (docs/DESIGN.md, "Streams as file descriptors").
#pragma once

#include <memory>

#include "base/result.hpp"
#include "client/session_pool.hpp"
#include "io/reactor.hpp"
#include "io/task_scope.hpp"

namespace anytls::client {

// Reactor thread. Returns the caller's end (a connected AF_UNIX stream socket, non-blocking,
// close-on-exec); the two relay directions run in `scope`, so its owner's shutdown (cancel,
// then join) ends them. On error the stream is ended (abort) and nothing is left running.
Result<int> hand_over_to_fd(io::Reactor& reactor, io::TaskScope& scope,
                            std::shared_ptr<PooledStream> stream);

}  // namespace anytls::client
