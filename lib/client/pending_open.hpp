// PendingOpen: an open that runs on the reactor while the caller waits on a file descriptor
// instead of a blocked thread (docs/DESIGN.md, "Pending opens"). Event loops (asyncio, a C
// program's poll loop) watch notify_fd(); cancel() reaches the open itself, so nothing is
// left running on the caller's behalf.
//
// Any thread may call any member. The result is the stream as a file descriptor, as
// Stream::into_fd gives it.
#pragma once

#include <memory>
#include <optional>

#include "base/result.hpp"

namespace anytls::client {

struct PendingOpenState;

class PendingOpen {
public:
    explicit PendingOpen(std::shared_ptr<PendingOpenState> state) : state_(std::move(state)) {}
    // Cancels the open if it is still running; closes the notify fd, and the stream's fd when
    // nobody took it.
    ~PendingOpen();
    PendingOpen(const PendingOpen&) = delete;
    PendingOpen& operator=(const PendingOpen&) = delete;

    // An eventfd that becomes readable (and stays so) once the open has ended.
    int notify_fd() const;
    // Empty while the open runs. Then, once: the stream's fd (the caller owns it), or why the
    // open failed (-ECANCELED after cancel()). Later calls: errc::invalid_argument.
    std::optional<Result<int>> take_result();
    // Asks the open to stop; it ends soon with -ECANCELED unless it ended first. Idempotent.
    void cancel();

private:
    std::shared_ptr<PendingOpenState> state_;
};

}  // namespace anytls::client
