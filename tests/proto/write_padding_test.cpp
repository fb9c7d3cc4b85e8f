// Write padding: the exact TLS writes the reference client (session.go writeConn) makes for
// writes 1, 2, 3 and >= stop of the default scheme, with fixed draws; and a property check that
// the receiver always gets the original frames back.
#include <doctest/doctest.h>

#include <random>

#include "proto/frame_decoder.hpp"
#include "proto/settings.hpp"
#include "proto/socks_address.hpp"
#include "proto/write_padding.hpp"
#include "proto_test_util.hpp"

using namespace anytls::proto;
using anytls::proto::test::Bytes;
using anytls::proto::test::concat;
using anytls::proto::test::hex;
using anytls::proto::test::ScriptedRandom;
using anytls::proto::test::zero_random;

namespace {

using Sizes = std::vector<std::size_t>;

// The first write of a new session: Settings + SYN(1) + PSH(1, example.com:443), 108 bytes.
Bytes first_write() {
    Bytes out;
    const auto settings =
        client_settings("anytls-cpp/0.1.0", PaddingScheme::default_scheme().md5_hex());
    REQUIRE(settings.ok());
    REQUIRE(append_frame(out, Command::settings, 0, std::string_view(settings.value())).ok());
    REQUIRE(append_frame(out, Command::syn, 1, std::string_view()).ok());
    const auto target = SocksAddress::from_host("example.com", 443);
    REQUIRE(target.ok());
    append_data_frames(out, 1, encode_socks_address(target.value()).value());
    return out;
}

// A PSH frame of `total` bytes (header included) on stream 1.
Bytes psh_of_size(std::size_t total) {
    Bytes data(total - frame_header_size);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 31 + 1);
    Bytes out;
    append_data_frames(out, 1, data);
    return out;
}

PaddedWrite pad_default(std::uint32_t k, const Bytes& payload, std::vector<std::uint64_t> draws) {
    ScriptedRandom random{std::move(draws)};
    return pad_write(PaddingScheme::default_scheme(), k, payload, random.source());
}

Bytes waste(std::size_t data_size) {
    Bytes out;
    append_frame_header(out, Command::waste, 0, static_cast<std::uint16_t>(data_size));
    out.insert(out.end(), data_size, 0);
    return out;
}

std::vector<Frame> decode(std::span<const std::uint8_t> bytes) {
    FrameDecoder decoder;
    std::vector<Frame> frames;
    while (auto frame = decoder.next(bytes)) frames.push_back(frame->copy());
    CHECK(decoder.at_frame_boundary());
    return frames;
}

}  // namespace

TEST_SUITE("proto") {
    TEST_CASE("write padding: write 1 (Settings + SYN + address), line 1=100-400") {
        const Bytes payload = first_write();
        REQUIRE(payload.size() == 108);

        SUBCASE("size 100: the payload is cut, the 8 left go out unpadded") {
            const auto out = pad_default(1, payload, {0});
            CHECK(out.write_sizes() == Sizes{100, 8});
            CHECK(out.bytes == payload);
            CHECK(Bytes(out.write(0).begin(), out.write(0).end()) ==
                  Bytes(payload.begin(), payload.begin() + 100));
        }
        SUBCASE("size 300: one write, the payload then a Waste frame of 300-108-7 = 185 bytes") {
            const auto out = pad_default(1, payload, {200});
            CHECK(out.write_sizes() == Sizes{300});
            CHECK(out.bytes == concat({payload, hex("00 00000000 00b9"), Bytes(185, 0)}));
        }
        SUBCASE("size 112..115: no room for a Waste frame, the write is just the payload") {
            for (std::uint64_t draw : {12, 13, 14, 15}) {
                const auto out = pad_default(1, payload, {draw});
                CHECK(out.write_sizes() == Sizes{108});
                CHECK(out.bytes == payload);
            }
        }
        SUBCASE("size 116: a Waste frame with one byte") {
            const auto out = pad_default(1, payload, {16});
            CHECK(out.write_sizes() == Sizes{116});
            CHECK(out.bytes == concat({payload, hex("00 00000000 0001 00")}));
        }
        SUBCASE("size 108: exactly the payload") {
            const auto out = pad_default(1, payload, {8});
            CHECK(out.write_sizes() == Sizes{108});
        }
        SUBCASE("the receiver sees Settings, SYN, PSH and maybe Waste") {
            const auto out = pad_default(1, payload, {299});
            CHECK(out.write_sizes() == Sizes{399});
            const auto frames = decode(out.bytes);
            REQUIRE(frames.size() == 4);
            CHECK(frames[0].command == Command::settings);
            CHECK(frames[1].command == Command::syn);
            CHECK(frames[2].command == Command::psh);
            CHECK(frames[2].data == hex("03 0b 6578616d706c652e636f6d 01bb"));
            CHECK(frames[3] == Frame{Command::waste, 0, Bytes(399 - 108 - 7, 0)});
        }
    }

    TEST_CASE("write padding: write 2, line 2=400-500,c,500-1000,c,... with check marks") {
        // Smallest draws: sizes 400, c, 500, c, 500, c, 500, c, 500.
        SUBCASE("a ClientHello-sized payload: two writes, then the check mark stops") {
            const Bytes payload = psh_of_size(517);
            const auto out = pad_default(2, payload, {0});
            CHECK(out.write_sizes() == Sizes{400, 500});
            CHECK(out.bytes == concat({payload, waste(500 - 117 - 7)}));
        }
        SUBCASE("a small payload: one padded write of 400") {
            const Bytes payload = psh_of_size(50);
            const auto out = pad_default(2, payload, {0});
            CHECK(out.write_sizes() == Sizes{400});
            CHECK(out.bytes == concat({payload, waste(343)}));
        }
        SUBCASE("exactly 400: one write, nothing left at the check mark") {
            const auto out = pad_default(2, psh_of_size(400), {0});
            CHECK(out.write_sizes() == Sizes{400});
        }
        SUBCASE("401: the check mark sees one byte left and goes on") {
            const auto out = pad_default(2, psh_of_size(401), {0});
            CHECK(out.write_sizes() == Sizes{400, 500});
        }
        SUBCASE("2000: all five sizes") {
            const auto out = pad_default(2, psh_of_size(2000), {0});
            CHECK(out.write_sizes() == Sizes{400, 500, 500, 500, 500});
        }
        SUBCASE("5000: five sizes and the rest unpadded") {
            const auto out = pad_default(2, psh_of_size(5000), {0});
            CHECK(out.write_sizes() == Sizes{400, 500, 500, 500, 500, 2600});
        }
        SUBCASE("other draws") {
            // Sizes 450, c, 750, c, 500, c, 999, c, 510.
            const Bytes payload = psh_of_size(3000);
            const auto out = pad_default(2, payload, {50, 250, 0, 499, 10});
            CHECK(out.write_sizes() == Sizes{450, 750, 500, 999, 510});
            CHECK(out.bytes == concat({payload, waste(510 - 301 - 7)}));
        }
        SUBCASE("an empty payload: the first size becomes a Waste frame of l + 7 bytes") {
            const auto out = pad_default(2, {}, {0});
            CHECK(out.write_sizes() == Sizes{407});
            CHECK(out.bytes == waste(400));
        }
    }

    TEST_CASE("write padding: write 3, line 3=9-9,500-1000 (no check mark)") {
        SUBCASE("100 bytes: 9, then the rest padded to 500") {
            const Bytes payload = psh_of_size(100);
            const auto out = pad_default(3, payload, {0});
            CHECK(out.write_sizes() == Sizes{9, 500});
            CHECK(out.bytes == concat({payload, waste(500 - 91 - 7)}));
        }
        SUBCASE("5 bytes fit in the 9 without padding; then a Waste-only write of 500 + 7") {
            const Bytes payload = hex("02 00000001");  // 5 bytes; a fragment of a frame is fine
            const auto out = pad_default(3, payload, {0});
            CHECK(out.write_sizes() == Sizes{5, 507});
            CHECK(out.bytes == concat({payload, waste(500)}));
        }
        SUBCASE("9 bytes exactly: then a Waste-only write") {
            const auto out = pad_default(3, psh_of_size(9), {123});
            CHECK(out.write_sizes() == Sizes{9, 630});
        }
    }

    TEST_CASE("write padding: writes 4..7 and >= stop") {
        const Bytes payload = psh_of_size(2000);
        for (std::uint32_t k = 4; k <= 7; ++k) {
            CHECK(pad_default(k, payload, {0}).write_sizes() == Sizes{500, 1500});
            CHECK(pad_default(k, psh_of_size(100), {499}).write_sizes() == Sizes{999});
        }
        // k >= stop: one unpadded write.
        const auto out = pad_default(8, payload, {0});
        CHECK(out.write_sizes() == Sizes{2000});
        CHECK(out.bytes == payload);
        CHECK(pad_default(8, {}, {0}).write_count() == 0);
    }

    TEST_CASE("write padding: a write with no scheme line goes out whole") {
        const auto scheme = PaddingScheme::parse("stop=5\n2=100-100").value();
        const Bytes payload = psh_of_size(300);
        CHECK(pad_write(scheme, 1, payload, zero_random()).write_sizes() == Sizes{300});
        CHECK(pad_write(scheme, 2, payload, zero_random()).write_sizes() == Sizes{100, 200});
        CHECK(pad_write(scheme, 3, {}, zero_random()).write_count() == 0);
    }

    TEST_CASE("write padding: Waste frames are capped at 65535 data bytes") {
        const auto scheme = PaddingScheme::parse("stop=2\n1=100000-100000,c,70000-70000").value();
        const auto out = pad_write(scheme, 1, psh_of_size(10), zero_random());
        CHECK(out.write_sizes() == Sizes{10 + 7 + 65535});
        const auto frames = decode(out.bytes);
        REQUIRE(frames.size() == 2);
        CHECK(frames[1].command == Command::waste);
        CHECK(frames[1].data.size() == 65535);
        const auto empty = pad_write(scheme, 1, {}, zero_random());
        CHECK(empty.write_sizes() == Sizes{7 + 65535});
    }

    TEST_CASE("write padding: WritePadder numbers writes from 1 and stops for good at stop") {
        const PaddingScheme& scheme = PaddingScheme::default_scheme();
        const auto random = zero_random();
        WritePadder padder;
        const Bytes payload = psh_of_size(2000);

        const std::vector<Sizes> expected = {
            {100, 1900},                // 1=100-400
            {400, 500, 500, 500, 500},  // 2: the last 100 bytes are padded up to 500
            {9, 500, 1491},             // 3=9-9,500-1000
            {500, 1500},
            {500, 1500},
            {500, 1500},
            {500, 1500},  // 4..7
        };
        for (std::uint32_t k = 1; k <= 7; ++k) {
            CAPTURE(k);
            const auto out = padder.next(scheme, payload, random);
            REQUIRE(out);
            CHECK(padder.writes_numbered() == k);
            CHECK(out->write_sizes() == expected[k - 1]);
        }
        CHECK_FALSE(padder.next(scheme, payload, random));
        CHECK(padder.padding_over());
        CHECK(padder.writes_numbered() == 8);
        // Even a new scheme with a larger stop does not turn padding back on (sendPadding = false).
        const auto longer = PaddingScheme::parse("stop=100\n9=500-500").value();
        CHECK_FALSE(padder.next(longer, payload, random));
        CHECK(padder.writes_numbered() == 8);
    }

    TEST_CASE("write padding: WritePadder follows a scheme replaced mid-session") {
        WritePadder padder;
        const auto random = zero_random();
        const Bytes payload = psh_of_size(50);
        REQUIRE(padder.next(PaddingScheme::default_scheme(), payload, random));
        const auto pushed = PaddingScheme::parse("stop=3\n2=60-60").value();
        const auto second = padder.next(pushed, payload, random);
        REQUIRE(second);
        CHECK(second->write_sizes() == Sizes{60});
        CHECK_FALSE(padder.next(pushed, payload, random));

        WritePadder never;
        CHECK_FALSE(never.next(PaddingScheme::parse("stop=0\n1=100-100").value(), payload, random));
    }

    TEST_CASE("write padding: the receiver always gets the original frames back") {
        std::mt19937 rng(7);
        const PaddingScheme& scheme = PaddingScheme::default_scheme();
        for (int trial = 0; trial < 300; ++trial) {
            CAPTURE(trial);
            // A payload of a few random frames.
            Bytes payload;
            const int count = static_cast<int>(rng() % 5);
            for (int i = 0; i < count; ++i) {
                Bytes data(rng() % 1500);
                for (auto& b : data) b = static_cast<std::uint8_t>(rng());
                REQUIRE(append_frame(payload, i % 2 ? Command::psh : Command::syn, 1 + rng() % 3,
                                     i % 2 ? data : Bytes{})
                            .ok());
            }
            const auto k = static_cast<std::uint32_t>(1 + rng() % 9);
            const anytls::proto::RandomSource random = [&rng](std::uint64_t bound) {
                return rng() % bound;
            };
            const auto out = pad_write(scheme, k, payload, random);

            CHECK(out.write_ends.empty() == (out.bytes.empty()));
            std::vector<Frame> received;
            for (auto& frame : decode(out.bytes)) {
                if (frame.command != Command::waste) received.push_back(std::move(frame));
            }
            CHECK(received == decode(payload));
            // Payload bytes come first, unchanged; only Waste frames follow them.
            CHECK(Bytes(out.bytes.begin(), out.bytes.begin() + static_cast<long>(payload.size())) ==
                  payload);
        }
    }

}  // TEST_SUITE
