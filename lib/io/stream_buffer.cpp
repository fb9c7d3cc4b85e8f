#include "io/stream_buffer.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "base/errors.hpp"
#include "io/timer.hpp"

namespace anytls::io {

io::Task<bool> StreamBuffer::wait_for_room() {
    while (buffered_ >= limit_ && !consumer_closed_ && !ended()) {
        co_await room_.wait(io::Duration::zero());
    }
    co_return !consumer_closed_ && !ended();
}

void StreamBuffer::push(std::span<const std::uint8_t> data) {
    if (data.empty() || consumer_closed_ || ended()) return;
    if (!waiting_reader_.empty() && chunks_.empty()) {
        std::size_t n = std::min(data.size(), waiting_reader_.size());
        std::memcpy(waiting_reader_.data(), data.data(), n);
        // The reader resumes later in this reactor turn: frames decoded before then (one
        // socket read often holds several) keep filling the rest of its buffer.
        handed_to_reader_ += n;
        waiting_reader_ = waiting_reader_.subspan(n);
        data = data.subspan(n);
        readable_.notify();
        if (data.empty()) return;
    }
    chunks_.emplace_back(data.begin(), data.end());
    buffered_ += data.size();
    readable_.notify();
}

void StreamBuffer::finish() {
    if (ended()) return;
    finished_ = true;
    readable_.notify();
    room_.notify();
}

void StreamBuffer::fail(Error error) {
    if (ended()) return;
    error_ = std::move(error);
    readable_.notify();
    room_.notify();
}

void StreamBuffer::close_consumer() {
    consumer_closed_ = true;
    chunks_.clear();
    front_offset_ = 0;
    buffered_ = 0;
    readable_.notify();
    room_.notify();
}

io::Task<Result<std::size_t>> StreamBuffer::read(std::span<std::byte> buffer,
                                                 io::Duration timeout) {
    if (buffer.empty()) co_return std::size_t{0};
    const io::Deadline deadline =
        timeout > io::Duration::zero() ? io::Deadline::after(timeout) : io::Deadline::never();
    while (buffered_ == 0 && !ended() && !consumer_closed_) {
        waiting_reader_ = buffer;  // handed_to_reader_ is 0 outside a wait
        bool woken = co_await readable_.wait(deadline.remaining());
        waiting_reader_ = {};
        if (handed_to_reader_ > 0) {
            // push() wrote straight into `buffer`; anything it could not fit is in chunks_
            // and read next time, after these bytes.
            std::size_t handed = std::exchange(handed_to_reader_, 0);
            co_return handed;
        }
        if (!woken && buffered_ == 0 && !ended() && !consumer_closed_) {
            co_return make_error(-ETIMEDOUT, "stream read timed out");
        }
    }
    if (buffered_ == 0) {
        if (error_) co_return *error_;
        if (consumer_closed_) co_return make_error(errc::closed, "stream closed");
        co_return std::size_t{0};  // finished: clean end
    }
    std::size_t copied = 0;
    while (copied < buffer.size() && !chunks_.empty()) {
        auto& front = chunks_.front();
        std::size_t n = std::min(buffer.size() - copied, front.size() - front_offset_);
        std::memcpy(buffer.data() + copied, front.data() + front_offset_, n);
        copied += n;
        front_offset_ += n;
        if (front_offset_ == front.size()) {
            chunks_.pop_front();
            front_offset_ = 0;
        }
    }
    buffered_ -= copied;
    if (buffered_ < limit_) room_.notify();
    co_return copied;
}

}  // namespace anytls::io
