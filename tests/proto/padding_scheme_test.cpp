// Padding scheme: the default text and its md5, parsing like NewPaddingFactory (invalid
// schemes rejected, malformed tokens ignored), and size generation with an injected source.
#include <doctest/doctest.h>

#include "base/errors.hpp"
#include "proto/digest.hpp"
#include "proto/padding_scheme.hpp"
#include "proto_test_util.hpp"

using namespace anytls;
using namespace anytls::proto;
using anytls::proto::test::ScriptedRandom;
using anytls::proto::test::zero_random;

namespace {

PaddingScheme parse_ok(std::string_view text) {
    auto scheme = PaddingScheme::parse(text);
    REQUIRE(scheme.ok());
    return std::move(scheme).value();
}

std::vector<PaddingToken> tokens_of(const PaddingScheme& scheme, std::uint32_t k) {
    const auto tokens = scheme.tokens(k);
    return {tokens.begin(), tokens.end()};
}

constexpr PaddingToken range(std::int64_t min, std::int64_t max) {
    return PaddingToken{false, min, max};
}
constexpr PaddingToken check{true, 0, 0};

}  // namespace

TEST_SUITE("proto") {
    TEST_CASE("padding scheme: the default text and md5") {
        CHECK(default_padding_scheme_text ==
              "stop=8\n0=30-30\n1=100-400\n2=400-500,c,500-1000,c,500-1000,c,500-1000,c,500-1000\n"
              "3=9-9,500-1000\n4=500-1000\n5=500-1000\n6=500-1000\n7=500-1000");
        const PaddingScheme& scheme = PaddingScheme::default_scheme();
        CHECK(scheme.md5_hex() == "75cff2ad89aadf5e257059ee571ebe11");
        CHECK(scheme.raw() == default_padding_scheme_text);
        CHECK(scheme.stop() == 8);
        CHECK(to_hex(md5("").value()) == "d41d8cd98f00b204e9800998ecf8427e");
        // The md5 is over the raw bytes: a trailing newline is a different scheme to the server.
        const auto with_newline = parse_ok(std::string(default_padding_scheme_text) + "\n");
        CHECK(with_newline.md5_hex() != scheme.md5_hex());
        CHECK(tokens_of(with_newline, 7) == tokens_of(scheme, 7));
    }

    TEST_CASE("padding scheme: the default lines") {
        const PaddingScheme& scheme = PaddingScheme::default_scheme();
        CHECK(tokens_of(scheme, 0) == std::vector{range(30, 30)});
        CHECK(tokens_of(scheme, 1) == std::vector{range(100, 400)});
        CHECK(tokens_of(scheme, 2) == std::vector{range(400, 500), check, range(500, 1000), check,
                                                  range(500, 1000), check, range(500, 1000), check,
                                                  range(500, 1000)});
        CHECK(tokens_of(scheme, 3) == std::vector{range(9, 9), range(500, 1000)});
        for (std::uint32_t k = 4; k <= 7; ++k)
            CHECK(tokens_of(scheme, k) == std::vector{range(500, 1000)});
        CHECK(scheme.tokens(8).empty());
        CHECK(scheme.tokens(100).empty());
    }

    TEST_CASE("padding scheme: size generation draws uniformly in [min, max)") {
        const PaddingScheme& scheme = PaddingScheme::default_scheme();
        ScriptedRandom random{{0, 299, 7}};
        const auto source = random.source();

        CHECK(scheme.generate_sizes(1, source) == std::vector<std::int64_t>{100});
        CHECK(scheme.generate_sizes(1, source) == std::vector<std::int64_t>{399});
        CHECK(random.bounds == std::vector<std::uint64_t>{300, 300});

        random.bounds.clear();
        random.next = 0;
        random.values = {50, 250, 0, 499, 10};
        CHECK(scheme.generate_sizes(2, source) ==
              std::vector<std::int64_t>{450, -1, 750, -1, 500, -1, 999, -1, 510});
        CHECK(random.bounds == std::vector<std::uint64_t>{100, 500, 500, 500, 500});

        // 9-9 is exact and draws nothing.
        random.bounds.clear();
        random.next = 0;
        random.values = {3};
        CHECK(scheme.generate_sizes(3, source) == std::vector<std::int64_t>{9, 503});
        CHECK(random.bounds == std::vector<std::uint64_t>{500});

        CHECK(scheme.generate_sizes(9, source).empty());
    }

    TEST_CASE("padding scheme: the auth preamble's padding length") {
        ScriptedRandom random{{5}};
        CHECK(PaddingScheme::default_scheme().auth_padding_length(random.source()) == 30);
        CHECK(random.bounds.empty());
        CHECK(parse_ok("stop=1\n0=10-20").auth_padding_length(random.source()) == 15);
        CHECK(parse_ok("stop=1\n0=7-7,100-200").auth_padding_length(zero_random()) == 7);
        CHECK(parse_ok("stop=1").auth_padding_length(zero_random()) == 0);
        CHECK(parse_ok("stop=1\n0=c,30-30").auth_padding_length(zero_random()) == 0);
        CHECK(parse_ok("stop=1\n0=70000-70000").auth_padding_length(zero_random()) == 65535);
    }

    TEST_CASE("padding scheme: invalid schemes are rejected") {
        for (const char* text :
             {"", "\n", "no equals sign", "1=100-200", "stop=x\n1=100-200", "stop=", "stop= 8",
              "stop=8 ", "stop=8.0", "stop=0x8", "STOP=8", "stop=99999999999999999999"}) {
            CAPTURE(text);
            const auto scheme = PaddingScheme::parse(text);
            REQUIRE_FALSE(scheme.ok());
            CHECK(scheme.code() == errc::protocol);
        }
    }

    TEST_CASE("padding scheme: stop is Go's uint32(Atoi(stop))") {
        CHECK(parse_ok("stop=8").stop() == 8);
        CHECK(parse_ok("stop=+3").stop() == 3);
        CHECK(parse_ok("stop=0").stop() == 0);
        CHECK(parse_ok("stop=-1").stop() == 4294967295u);
        CHECK(parse_ok("stop=4294967297").stop() == 1);
        CHECK(parse_ok("x=y\nstop=2\nstop=5").stop() == 5);  // last duplicate wins
    }

    TEST_CASE("padding scheme: malformed tokens are ignored") {
        const auto scheme = parse_ok(
            "stop=3\n1=abc,100-100,c,5,-5-10,0-10,10-0,200-100,+7-7, 9-9,1-2-3,C,c ,,9-9\r,-,1-x");
        CHECK(tokens_of(scheme, 1) ==
              std::vector{range(100, 100), check, range(100, 200), range(7, 7)});

        // Lines are found by the canonical decimal of the write number only.
        const auto keys = parse_ok("stop=9\n01=5-5\n+2=5-5\n3 =5-5\n4=6-6\n4=7-7\n5=\n6=junk");
        CHECK(keys.tokens(1).empty());
        CHECK(keys.tokens(2).empty());
        CHECK(keys.tokens(3).empty());
        CHECK(tokens_of(keys, 4) == std::vector{range(7, 7)});
        CHECK(keys.tokens(5).empty());
        CHECK(keys.tokens(6).empty());

        // The last value of a key wins even when it has no valid token, and whatever the order
        // of the keys in the text.
        const auto last = parse_ok("7=1-1\nstop=9\n3=5-5\n7=2-2,c\n3=junk\n1=4-4\n3=x\nstop=8");
        CHECK(last.stop() == 8);
        CHECK(tokens_of(last, 1) == std::vector{range(4, 4)});
        CHECK(last.tokens(3).empty());
        CHECK(tokens_of(last, 7) == std::vector{range(2, 2), check});
        CHECK(last.largest_padded_write() == 4 + 7);  // line 1; line 7 is 2 + 7

        // Large values are kept (only the splitter bounds Waste frames); beyond int64 is ignored.
        const auto large = parse_ok("stop=2\n1=4294967296-4294967296,99999999999999999999-1");
        CHECK(tokens_of(large, 1) == std::vector{range(4294967296, 4294967296)});
        CHECK(tokens_of(parse_ok("stop=2\n4294967295=1-1"), 4294967295u) ==
              std::vector{range(1, 1)});
        CHECK(parse_ok("stop=2\n4294967296=1-1").tokens(0).empty());
    }

    TEST_CASE("padding scheme: the system random source stays in range") {
        const RandomSource random = system_random_source();
        bool seen[10] = {};
        for (int i = 0; i < 2000; ++i) {
            const std::uint64_t v = random(10);
            REQUIRE(v < 10);
            seen[v] = true;
        }
        for (bool s : seen) CHECK(s);
        CHECK(random(1) == 0);
        const auto sizes = PaddingScheme::default_scheme().generate_sizes(2, random);
        REQUIRE(sizes.size() == 9);
        CHECK(sizes[0] >= 400);
        CHECK(sizes[0] < 500);
        CHECK(sizes[1] == padding_check_mark);
        CHECK(sizes[8] >= 500);
        CHECK(sizes[8] < 1000);
    }

}  // TEST_SUITE
