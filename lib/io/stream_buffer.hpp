// StreamBuffer: the bounded receive buffer of one stream, shared by the client and the server.
//
// The session's reader coroutine is the producer: it decodes PSH frames and pushes their
// data here. The stream's user is the consumer. Memory stays bounded
// (backpressure): before pushing, the producer waits until fewer than `limit` bytes are
// buffered, so a slow consumer stops the whole session reading — the same effect as the
// reference's synchronous pipe (sing-anytls session.go recvLoop: stream.pipeW.Write blocks).
// At most limit + 65535 bytes (one frame) are ever held.
//
// End states: finish() (the peer's FIN: reads return 0 once the data is drained) and fail()
// (the session or stream failed: reads return the error once the data is drained).
// close_consumer() says nobody will read any more: data is dropped and the producer never waits.
// While a read() waits on an empty buffer, push() copies straight into the reader's buffer
// (the frame's bytes are copied once, not into a chunk and then out of it), and only what
// does not fit is kept as a chunk.
// Reactor thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "base/result.hpp"
#include "io/reactor.hpp"
#include "io/task.hpp"
#include "io/signal.hpp"

namespace anytls::io {

inline constexpr std::size_t default_stream_buffer_limit = 1024 * 1024;

class StreamBuffer {
public:
    StreamBuffer(io::Reactor& reactor, std::size_t limit)
        : limit_(limit), readable_(reactor), room_(reactor) {}

    // Producer: waits while the buffer is full. false: the consumer is gone or the buffer has
    // ended, so the data should be dropped.
    io::Task<bool> wait_for_room();
    // Producer: appends data (ignored after an end state or close_consumer()).
    void push(std::span<const std::uint8_t> data);
    void finish();
    void fail(Error error);

    // Consumer: reads up to buffer.size() bytes. 0 = clean end (after finish()); -ETIMEDOUT
    // when nothing arrived within `timeout` (zero: no limit); the fail() error otherwise.
    io::Task<Result<std::size_t>> read(std::span<std::byte> buffer, io::Duration timeout);
    void close_consumer();

    std::size_t buffered() const { return buffered_; }
    std::size_t limit() const { return limit_; }
    bool finished() const { return finished_; }
    bool failed() const { return error_.has_value(); }
    bool ended() const { return finished_ || error_.has_value(); }
    const std::optional<Error>& error() const { return error_; }

private:
    std::size_t limit_;
    std::deque<std::vector<std::uint8_t>> chunks_;
    std::size_t front_offset_ = 0;
    std::size_t buffered_ = 0;
    bool finished_ = false;
    bool consumer_closed_ = false;
    std::optional<Error> error_;
    std::span<std::byte> waiting_reader_;  // the buffer of a read() waiting on an empty buffer
    std::size_t handed_to_reader_ = 0;     // bytes push() copied into waiting_reader_
    Signal readable_;
    Signal room_;
};

}  // namespace anytls::io
