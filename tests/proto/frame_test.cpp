// Frame encoder: exact bytes for every command, and chunking of large data into PSH frames.
#include <doctest/doctest.h>

#include "base/errors.hpp"
#include "proto/frame.hpp"
#include "proto_test_util.hpp"

using namespace anytls;
using namespace anytls::proto;
using anytls::proto::test::Bytes;
using anytls::proto::test::bytes_of;
using anytls::proto::test::hex;

namespace {

Bytes encode(Command command, std::uint32_t stream_id, std::string_view text = {}) {
    Bytes out;
    REQUIRE(append_frame(out, command, stream_id, text).ok());
    return out;
}

}  // namespace

TEST_SUITE("proto") {
    TEST_CASE("frame: command numbers follow frame.go") {
        CHECK(static_cast<int>(Command::waste) == 0);
        CHECK(static_cast<int>(Command::syn) == 1);
        CHECK(static_cast<int>(Command::psh) == 2);
        CHECK(static_cast<int>(Command::fin) == 3);
        CHECK(static_cast<int>(Command::settings) == 4);
        CHECK(static_cast<int>(Command::alert) == 5);
        CHECK(static_cast<int>(Command::update_padding_scheme) == 6);
        CHECK(static_cast<int>(Command::synack) == 7);
        CHECK(static_cast<int>(Command::heart_request) == 8);
        CHECK(static_cast<int>(Command::heart_response) == 9);
        CHECK(static_cast<int>(Command::server_settings) == 10);
        CHECK(is_known_command(Command::server_settings));
        CHECK_FALSE(is_known_command(static_cast<Command>(11)));
        CHECK_FALSE(is_known_command(static_cast<Command>(255)));
        CHECK(command_name(Command::update_padding_scheme) == "update-padding-scheme");
        CHECK(command_name(static_cast<Command>(42)) == "unknown");
    }

    TEST_CASE("frame: exact bytes for every command") {
        Bytes waste;
        REQUIRE(append_frame(waste, Command::waste, 0, Bytes{0, 0, 0}).ok());
        CHECK(waste == hex("00 00000000 0003 000000"));
        CHECK(encode(Command::syn, 1) == hex("01 00000001 0000"));
        CHECK(encode(Command::psh, 1, "abc") == hex("02 00000001 0003 616263"));
        CHECK(encode(Command::fin, 1) == hex("03 00000001 0000"));
        CHECK(encode(Command::settings, 0, "v=2") == hex("04 00000000 0003 763d32"));
        CHECK(encode(Command::alert, 0, "no") == hex("05 00000000 0002 6e6f"));
        CHECK(encode(Command::update_padding_scheme, 0, "stop=1") ==
              hex("06 00000000 0006 73746f703d31"));
        CHECK(encode(Command::synack, 0x01020304) == hex("07 01020304 0000"));
        CHECK(encode(Command::synack, 7, "err") == hex("07 00000007 0003 657272"));
        CHECK(encode(Command::heart_request, 5) == hex("08 00000005 0000"));
        CHECK(encode(Command::heart_response, 5) == hex("09 00000005 0000"));
        CHECK(encode(Command::server_settings, 0, "v=2") == hex("0a 00000000 0003 763d32"));
    }

    TEST_CASE("frame: header fields are big-endian") {
        const auto header = frame_header(Command::psh, 0xdeadbeef, 0xabcd);
        CHECK(Bytes(header.begin(), header.end()) == hex("02 deadbeef abcd"));
        Bytes out = {0x99};
        append_frame_header(out, Command::fin, 0x00000100, 0);
        CHECK(out == hex("99 03 00000100 0000"));
    }

    TEST_CASE("frame: data limit is 65535 bytes") {
        Bytes out;
        CHECK(append_frame(out, Command::psh, 1, Bytes(max_frame_data, 0x5a)).ok());
        CHECK(out.size() == frame_header_size + max_frame_data);
        CHECK(out[5] == 0xff);
        CHECK(out[6] == 0xff);

        Bytes too_big;
        const auto result = append_frame(too_big, Command::psh, 1, Bytes(max_frame_data + 1, 0));
        REQUIRE_FALSE(result.ok());
        CHECK(result.code() == errc::invalid_argument);
        CHECK(too_big.empty());
    }

    TEST_CASE("frame: large data is chunked into PSH frames") {
        Bytes data(2 * max_frame_data + 10);
        for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7);

        Bytes out;
        append_data_frames(out, 3, data);
        REQUIRE(out.size() == data_frames_size(data.size()));
        CHECK(out.size() == data.size() + 3 * frame_header_size);

        // Walk the frames and put the data back together.
        Bytes joined;
        std::vector<std::size_t> lengths;
        for (std::size_t at = 0; at < out.size();) {
            CHECK(out[at] == 2);
            CHECK(out[at + 1] == 0);
            CHECK(out[at + 4] == 3);
            const std::size_t length = (std::size_t{out[at + 5]} << 8) | out[at + 6];
            lengths.push_back(length);
            joined.insert(joined.end(), out.begin() + static_cast<long>(at + 7),
                          out.begin() + static_cast<long>(at + 7 + length));
            at += 7 + length;
        }
        CHECK(lengths == std::vector<std::size_t>{65535, 65535, 10});
        CHECK(joined == data);
    }

    TEST_CASE("frame: exactly 65535 bytes is one frame; empty data is no frame") {
        Bytes out;
        append_data_frames(out, 1, Bytes(max_frame_data, 1));
        CHECK(out.size() == max_frame_data + frame_header_size);

        Bytes small;
        append_data_frames(small, 9, bytes_of("hi"));
        CHECK(small == hex("02 00000009 0002 6869"));

        Bytes none;
        append_data_frames(none, 1, {});
        CHECK(none.empty());
        CHECK(data_frames_size(0) == 0);
        CHECK(data_frames_size(65536) == 65536 + 14);
    }

}  // TEST_SUITE
