// StreamBuffer on a real reactor: bytes keep their order whether push() hands them straight
// to a waiting read() or keeps them as chunks, a read smaller than a frame gets the rest next
// time, a timed-out read leaves no stale target for the next push, and the end states.
#include <doctest/doctest.h>

#include <cerrno>
#include <numeric>
#include <vector>

#include "io/reactor.hpp"
#include "io/timer.hpp"
#include "io/stream_buffer.hpp"

using namespace anytls;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint8_t> counting(std::size_t n, std::uint8_t first) {
    std::vector<std::uint8_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

// Reads until `want` bytes or the end, in reads of at most `slice` bytes.
io::Task<std::vector<std::uint8_t>> read_all(io::StreamBuffer* buffer, std::size_t want,
                                             std::size_t slice, int* reads) {
    std::vector<std::uint8_t> got;
    std::vector<std::byte> chunk(slice);
    while (got.size() < want) {
        auto n = co_await buffer->read(chunk, 2s);
        if (!n || *n == 0) break;
        ++*reads;
        auto* p = reinterpret_cast<const std::uint8_t*>(chunk.data());
        got.insert(got.end(), p, p + *n);
    }
    co_return got;
}

// One read of at most 16 bytes.
io::Task<Result<std::size_t>> read_once(io::StreamBuffer* buffer, io::Duration timeout) {
    std::vector<std::byte> small(16);
    co_return co_await buffer->read(small, timeout);
}

io::Task<void> push_later(io::Reactor* r, io::StreamBuffer* buffer,
                          std::vector<std::vector<std::uint8_t>> frames) {
    for (auto& frame : frames) {
        co_await io::sleep_for(*r, 1ms);
        buffer->push(frame);
    }
}

// Pushes every frame in one go, before the waiting reader resumes (as the session's reader
// does with the frames of one socket read).
io::Task<void> push_at_once(io::Reactor* r, io::StreamBuffer* buffer,
                            std::vector<std::vector<std::uint8_t>> frames) {
    co_await io::sleep_for(*r, 1ms);
    for (auto& frame : frames) buffer->push(frame);
}

}  // namespace

TEST_CASE(
    "StreamBuffer: a waiting reader gets the frame directly; what does not fit comes next, in "
    "order") {
    io::Reactor r;
    io::StreamBuffer buffer(r, 1 << 20);
    // Frames of 10, 5000 and 3 bytes into reads of 1000: the 5000-byte frame overflows the
    // waiting reader's buffer and the rest must follow it, before the 3-byte frame.
    std::vector<std::vector<std::uint8_t>> frames{counting(10, 0), counting(5000, 10),
                                                  counting(3, 7)};
    std::vector<std::uint8_t> expected;
    for (auto& f : frames) expected.insert(expected.end(), f.begin(), f.end());
    r.spawn(push_later(&r, &buffer, frames));
    int reads = 0;
    auto got = io::sync_wait(r, read_all(&buffer, expected.size(), 1000, &reads));
    CHECK(got == expected);
    CHECK(reads >= 7);  // 10, then 5000 in five reads of 1000, then 3
    CHECK(buffer.buffered() == 0);
}

TEST_CASE(
    "StreamBuffer: pushes before the reader resumes fill its buffer in order; one read takes "
    "them") {
    io::Reactor r;
    io::StreamBuffer buffer(r, 1 << 20);
    auto a = counting(300, 1), b = counting(200, 99);
    r.spawn(push_at_once(&r, &buffer, {a, b}));
    int reads = 0;
    auto got = io::sync_wait(r, read_all(&buffer, 500, 4096, &reads));
    std::vector<std::uint8_t> expected = a;
    expected.insert(expected.end(), b.begin(), b.end());
    CHECK(got == expected);
    CHECK(reads == 1);  // both went straight into the waiting reader's buffer
    CHECK(buffer.buffered() == 0);
}

TEST_CASE(
    "StreamBuffer: a push that overflows the waiting reader's buffer, and the pushes after it, "
    "follow in order") {
    io::Reactor r;
    io::StreamBuffer buffer(r, 1 << 20);
    auto a = counting(300, 1), b = counting(200, 99), c = counting(50, 7);
    r.spawn(push_at_once(&r, &buffer, {a, b, c}));
    std::vector<std::byte> first(400);
    auto n = io::sync_wait(r, buffer.read(first, 5s));
    REQUIRE(n);
    CHECK(*n == 400);                 // a and the first 100 bytes of b
    CHECK(buffer.buffered() == 150);  // the rest of b, then c, as chunks
    std::vector<std::uint8_t> got(reinterpret_cast<std::uint8_t*>(first.data()),
                                  reinterpret_cast<std::uint8_t*>(first.data()) + 400);
    int reads = 0;
    auto rest = io::sync_wait(r, read_all(&buffer, 150, 4096, &reads));
    got.insert(got.end(), rest.begin(), rest.end());
    std::vector<std::uint8_t> expected = a;
    expected.insert(expected.end(), b.begin(), b.end());
    expected.insert(expected.end(), c.begin(), c.end());
    CHECK(got == expected);
}

TEST_CASE(
    "StreamBuffer: a read that timed out leaves no target behind; data then waits as a chunk") {
    io::Reactor r;
    io::StreamBuffer buffer(r, 1 << 20);
    auto timed_out = io::sync_wait(r, read_once(&buffer, 5ms));
    REQUIRE_FALSE(timed_out);
    CHECK(timed_out.code() == -ETIMEDOUT);
    // The timed-out reader's buffer is gone; a push now must not write into it.
    auto frame = counting(64, 5);
    buffer.push(frame);
    CHECK(buffer.buffered() == 64);
    buffer.finish();
    int reads = 0;
    auto got = io::sync_wait(r, read_all(&buffer, 1000, 4096, &reads));
    CHECK(got == frame);
}

TEST_CASE("StreamBuffer: finish and fail end a waiting reader; close_consumer drops data") {
    io::Reactor r;
    io::StreamBuffer finished(r, 1024);
    finished.push(counting(4, 0));
    finished.finish();
    int reads = 0;
    CHECK(io::sync_wait(r, read_all(&finished, 100, 16, &reads)).size() == 4);

    io::StreamBuffer failed(r, 1024);
    failed.fail(make_error(-ECONNRESET, "reset"));
    auto n = io::sync_wait(r, read_once(&failed, 1s));
    REQUIRE_FALSE(n);
    CHECK(n.code() == -ECONNRESET);

    io::StreamBuffer dropped(r, 1024);
    dropped.close_consumer();
    dropped.push(counting(4, 0));
    CHECK(dropped.buffered() == 0);
}
