// FrameDecoder: the same frames whatever the cuts, unknown commands skip only the header,
// zero-copy views for whole frames, and bounded buffering.
#include <doctest/doctest.h>

#include <random>

#include "proto/frame_decoder.hpp"
#include "proto_test_util.hpp"

using namespace anytls::proto;
using anytls::proto::test::Bytes;
using anytls::proto::test::bytes_of;
using anytls::proto::test::hex;

namespace {

// A stream holding every command, an empty PSH, a maximal PSH and a few odd stream ids.
Bytes sample_stream(std::vector<Frame>& expected) {
    Bytes out;
    const auto add = [&](Command command, std::uint32_t sid, Bytes data) {
        REQUIRE(append_frame(out, command, sid, data).ok());
        expected.push_back(Frame{command, sid, std::move(data)});
    };
    add(Command::settings, 0,
        bytes_of("v=2\nclient=anytls-cpp/0.1.0\npadding-md5=75cff2ad89aadf5e257059ee571ebe11"));
    add(Command::syn, 1, {});
    add(Command::psh, 1, hex("03 0b 6578616d706c652e636f6d 01bb"));
    add(Command::waste, 0, Bytes(300, 0));
    add(Command::psh, 1, {});
    add(Command::synack, 1, {});
    add(Command::synack, 2, bytes_of("connection refused"));
    add(Command::alert, 0, bytes_of("client did not send its settings"));
    add(Command::update_padding_scheme, 0, bytes_of("stop=2\n1=10-20"));
    add(Command::heart_request, 0xffffffff, {});
    add(Command::heart_response, 0x80000000, {});
    add(Command::server_settings, 0, bytes_of("v=2"));
    Bytes big(max_frame_data);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i ^ (i >> 8));
    add(Command::psh, 3, big);
    add(Command::fin, 1, {});
    return out;
}

// Feeds `stream` cut at the given offsets and returns every frame, copied.
std::vector<Frame> decode_with_cuts(std::span<const std::uint8_t> stream,
                                    std::vector<std::size_t> cuts) {
    FrameDecoder decoder;
    std::vector<Frame> frames;
    cuts.push_back(stream.size());
    std::size_t begin = 0;
    for (const std::size_t end : cuts) {
        std::span<const std::uint8_t> chunk = stream.subspan(begin, end - begin);
        while (auto frame = decoder.next(chunk)) frames.push_back(frame->copy());
        CHECK(chunk.empty());
        CHECK(decoder.buffered() <= frame_header_size + max_frame_data);
        begin = end;
    }
    CHECK(decoder.at_frame_boundary());
    return frames;
}

// Empty PSH frames dropped and adjacent PSH frames of one stream merged: what a stream's
// reader sees, which split_stream_data(true) must keep.
std::vector<Frame> as_stream_data(const std::vector<Frame>& frames) {
    std::vector<Frame> out;
    for (const auto& f : frames) {
        if (f.command == Command::psh && f.data.empty()) continue;
        if (f.command == Command::psh && !out.empty() && out.back().command == Command::psh &&
            out.back().stream_id == f.stream_id) {
            out.back().data.insert(out.back().data.end(), f.data.begin(), f.data.end());
            continue;
        }
        out.push_back(f);
    }
    return out;
}

// decode_with_cuts with split_stream_data(true); also checks that every PSH part is a view
// into the chunk it came from (nothing copied) and is never empty.
std::vector<Frame> decode_split_with_cuts(std::span<const std::uint8_t> stream,
                                          std::vector<std::size_t> cuts) {
    FrameDecoder decoder;
    decoder.split_stream_data(true);
    std::vector<Frame> frames;
    cuts.push_back(stream.size());
    std::size_t begin = 0;
    for (const std::size_t end : cuts) {
        std::span<const std::uint8_t> chunk = stream.subspan(begin, end - begin);
        const std::uint8_t* chunk_begin = chunk.data();
        const std::uint8_t* chunk_end = chunk.data() + chunk.size();
        while (auto frame = decoder.next(chunk)) {
            if (frame->command == Command::psh && !frame->data.empty()) {
                CHECK(frame->data.data() >= chunk_begin);
                CHECK(frame->data.data() + frame->data.size() <= chunk_end);
            }
            frames.push_back(frame->copy());
        }
        CHECK(chunk.empty());
        CHECK(decoder.buffered() <= frame_header_size + max_frame_data);
        begin = end;
    }
    CHECK(decoder.at_frame_boundary());
    return frames;
}

}  // namespace

TEST_SUITE("proto") {
    TEST_CASE(
        "frame decoder: split stream data hands PSH data out in order, uncopied, whatever the "
        "cuts") {
        std::vector<Frame> expected;
        const Bytes stream = sample_stream(expected);
        const auto want = as_stream_data(expected);
        CHECK(as_stream_data(decode_split_with_cuts(stream, {})) == want);
        std::mt19937 rng(20261126);
        for (int trial = 0; trial < 200; ++trial) {
            std::vector<std::size_t> cuts;
            std::size_t at = 0;
            while (true) {
                at += (rng() % 4 == 0) ? 1 + rng() % 70000 : 1 + rng() % 20;
                if (at >= stream.size()) break;
                cuts.push_back(at);
            }
            CAPTURE(trial);
            REQUIRE(as_stream_data(decode_split_with_cuts(stream, cuts)) == want);
        }
        // The 64 KiB PSH cut in the middle of its data arrives as two parts, not one copy.
        Bytes big;
        REQUIRE(append_frame(big, Command::psh, 5, Bytes(max_frame_data, 0x5a)).ok());
        const auto parts = decode_split_with_cuts(big, {100, 30000});
        REQUIRE(parts.size() == 3);
        CHECK(parts[0].data.size() == 93);
        CHECK(parts[1].data.size() == 29900);
        CHECK(parts[2].data.size() == max_frame_data - 29993);
    }

    TEST_CASE("frame decoder: whole stream at once") {
        std::vector<Frame> expected;
        const Bytes stream = sample_stream(expected);
        CHECK(decode_with_cuts(stream, {}) == expected);
    }

    TEST_CASE("frame decoder: one byte at a time") {
        std::vector<Frame> expected;
        const Bytes stream = sample_stream(expected);
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
        CHECK(decode_with_cuts(stream, cuts) == expected);
    }

    TEST_CASE("frame decoder: random cuts") {
        std::vector<Frame> expected;
        const Bytes stream = sample_stream(expected);
        std::mt19937 rng(20240601);
        for (int trial = 0; trial < 200; ++trial) {
            // Mostly small pieces, sometimes large ones, so both split headers and split data occur.
            std::vector<std::size_t> cuts;
            std::size_t at = 0;
            while (true) {
                const std::size_t step = (rng() % 4 == 0) ? 1 + rng() % 70000 : 1 + rng() % 20;
                at += step;
                if (at >= stream.size()) break;
                cuts.push_back(at);
            }
            CAPTURE(trial);
            REQUIRE(decode_with_cuts(stream, cuts) == expected);
        }
    }

    TEST_CASE("frame decoder: every single cut point of a small stream") {
        std::vector<Frame> expected;
        Bytes stream;
        REQUIRE(append_frame(stream, Command::psh, 7, bytes_of("hello")).ok());
        REQUIRE(append_frame(stream, Command::syn, 8, Bytes{}).ok());
        REQUIRE(append_frame(stream, Command::waste, 0, Bytes(3, 0)).ok());
        expected = {Frame{Command::psh, 7, bytes_of("hello")}, Frame{Command::syn, 8, {}},
                    Frame{Command::waste, 0, Bytes(3, 0)}};
        for (std::size_t i = 0; i <= stream.size(); ++i) {
            for (std::size_t j = i; j <= stream.size(); ++j) {
                CAPTURE(i);
                CAPTURE(j);
                REQUIRE(decode_with_cuts(stream, {i, j}) == expected);
            }
        }
    }

    TEST_CASE("frame decoder: an unknown command is a 7-byte header only") {
        // Command 11 declaring 7 bytes of data, then a SYN. The references read the header alone
        // (sing-anytls recvLoop default case), so the "data" is the next frame.
        const Bytes stream = hex("0b 00000001 0007  01 00000002 0000");
        const auto frames = decode_with_cuts(stream, {});
        REQUIRE(frames.size() == 2);
        CHECK(static_cast<int>(frames[0].command) == 11);
        CHECK(frames[0].stream_id == 1);
        CHECK(frames[0].data.empty());
        CHECK(frames[1] == Frame{Command::syn, 2, {}});

        // The same, one byte at a time.
        std::vector<std::size_t> cuts;
        for (std::size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
        CHECK(decode_with_cuts(stream, cuts) == frames);

        // 0xff as well: any unknown value.
        const auto more = decode_with_cuts(hex("ff 00000000 ffff"), {});
        REQUIRE(more.size() == 1);
        CHECK(static_cast<int>(more[0].command) == 0xff);
    }

    TEST_CASE(
        "frame decoder: SYN, FIN and heartbeats ignore their length field like the references") {
        // A SYN declaring 3 bytes: recvLoop's cmdSYN case reads no data, so the next 7 bytes (a
        // FIN) are the next frame and the declared length is ignored.
        const Bytes stream =
            hex("01 00000001 0003  03 00000001 0009  08 00000000 0001  09 00000000 0002"
                "02 00000001 0001 41");
        const auto frames = decode_with_cuts(stream, {});
        REQUIRE(frames.size() == 5);
        CHECK(frames[0] == Frame{Command::syn, 1, {}});
        CHECK(frames[1] == Frame{Command::fin, 1, {}});
        CHECK(frames[2] == Frame{Command::heart_request, 0, {}});
        CHECK(frames[3] == Frame{Command::heart_response, 0, {}});
        CHECK(frames[4] == Frame{Command::psh, 1, bytes_of("A")});
        CHECK(command_carries_data(Command::psh));
        CHECK_FALSE(command_carries_data(Command::syn));
        CHECK_FALSE(command_carries_data(static_cast<Command>(11)));
    }

    TEST_CASE("frame decoder: a frame inside the chunk is a view into it; a split one is copied") {
        Bytes stream;
        REQUIRE(append_frame(stream, Command::psh, 1, bytes_of("abcdef")).ok());
        FrameDecoder decoder;
        std::span<const std::uint8_t> whole(stream);
        auto frame = decoder.next(whole);
        REQUIRE(frame);
        CHECK(frame->data.data() == stream.data() + frame_header_size);
        CHECK(whole.empty());

        std::span<const std::uint8_t> first = std::span<const std::uint8_t>(stream).first(9);
        std::span<const std::uint8_t> second = std::span<const std::uint8_t>(stream).subspan(9);
        CHECK_FALSE(decoder.next(first));
        CHECK(decoder.buffered() == 9);
        auto split = decoder.next(second);
        REQUIRE(split);
        CHECK(Bytes(split->data.begin(), split->data.end()) == bytes_of("abcdef"));
        CHECK(split->data.data() != stream.data() + frame_header_size);
        CHECK(decoder.at_frame_boundary());
    }

    TEST_CASE("frame decoder: buffers at most one frame") {
        Bytes stream;
        REQUIRE(append_frame(stream, Command::psh, 1, Bytes(max_frame_data, 1)).ok());
        REQUIRE(append_frame(stream, Command::psh, 1, Bytes(max_frame_data, 2)).ok());
        FrameDecoder decoder;
        std::span<const std::uint8_t> chunk =
            std::span<const std::uint8_t>(stream).first(stream.size() - 1);
        // The decoder stops after each complete frame, so the caller gets frames one by one and the
        // rest of the chunk stays with the caller.
        auto frame = decoder.next(chunk);
        REQUIRE(frame);
        CHECK(frame->data.size() == max_frame_data);
        CHECK(chunk.size() == frame_header_size + max_frame_data - 1);
        CHECK_FALSE(decoder.next(chunk));
        CHECK(decoder.buffered() == frame_header_size + max_frame_data - 1);
        std::span<const std::uint8_t> last = std::span<const std::uint8_t>(stream).last(1);
        auto second = decoder.next(last);
        REQUIRE(second);
        CHECK(second->data.size() == max_frame_data);
        CHECK(second->data.front() == 2);
        CHECK(decoder.buffered() == 0);
    }

    TEST_CASE("frame decoder: reset() forgets a partial frame and the split setting") {
        std::vector<Frame> expected;
        const Bytes stream = sample_stream(expected);
        FrameDecoder decoder;
        decoder.split_stream_data(true);
        // Leave it in the middle of a PSH passed through, then in the middle of a collected one.
        Bytes partial;
        REQUIRE(append_frame(partial, Command::psh, 9, Bytes(1000, 7)).ok());
        std::span<const std::uint8_t> chunk = std::span<const std::uint8_t>(partial).first(500);
        while (decoder.next(chunk)) {}
        CHECK(decoder.buffered() == frame_header_size);
        decoder.reset();
        CHECK(decoder.at_frame_boundary());
        chunk = std::span<const std::uint8_t>(partial).first(500);
        CHECK_FALSE(decoder.next(chunk));  // not split any more: the data is collected
        CHECK(decoder.buffered() == 500);
        decoder.reset();
        CHECK(decoder.at_frame_boundary());
        // Then it decodes a new stream as a new decoder would, one byte at a time.
        std::vector<Frame> frames;
        for (std::size_t i = 0; i < stream.size(); ++i) {
            std::span<const std::uint8_t> byte =
                std::span<const std::uint8_t>(stream).subspan(i, 1);
            while (auto frame = decoder.next(byte)) frames.push_back(frame->copy());
        }
        CHECK(decoder.at_frame_boundary());
        CHECK(frames == expected);
    }

    TEST_CASE("frame decoder: empty input yields nothing") {
        FrameDecoder decoder;
        std::span<const std::uint8_t> empty;
        CHECK_FALSE(decoder.next(empty));
        CHECK(decoder.at_frame_boundary());
    }

}  // TEST_SUITE
