// Auth preamble: exact bytes, parsing split at every boundary, the padding cap, and the
// constant-time hash lookup.
#include <doctest/doctest.h>

#include "base/errors.hpp"
#include "proto/auth_preamble.hpp"
#include "proto/frame.hpp"
#include "proto_test_util.hpp"

using namespace anytls;
using namespace anytls::proto;
using anytls::proto::test::Bytes;
using anytls::proto::test::concat;
using anytls::proto::test::hex;

namespace {

PasswordHash hash_of(std::string_view password) {
    auto hash = hash_password(password);
    REQUIRE(hash.ok());
    return *hash;
}

// Feeds `pieces` in order; returns the frame-stream bytes seen after the preamble, or the
// error code of the first failure.
struct FeedOutcome {
    bool done = false;
    int error = 0;
    Bytes rest;
};

FeedOutcome feed_all(AuthPreambleParser& parser,
                     const std::vector<std::span<const std::uint8_t>>& pieces) {
    FeedOutcome outcome;
    for (auto piece : pieces) {
        auto progress = parser.feed(piece);
        if (!progress) {
            outcome.error = progress.code();
            return outcome;
        }
        if (progress->status == AuthPreambleParser::Status::done) {
            outcome.done = true;
            outcome.rest.insert(outcome.rest.end(), progress->rest.begin(), progress->rest.end());
        } else {
            CHECK(progress->rest.empty());
        }
    }
    return outcome;
}

}  // namespace

TEST_SUITE("proto") {
    TEST_CASE("auth preamble: sha256 of the password") {
        CHECK(to_hex(hash_of("password")) ==
              "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8");
        CHECK(to_hex(hash_of("")) ==
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    }

    TEST_CASE("auth preamble: exact bytes") {
        const PasswordHash hash = hash_of("password");
        const Bytes preamble = build_auth_preamble(hash, 30);
        const Bytes expected = concat({hash, hex("001e"), Bytes(30, 0)});
        CHECK(preamble == expected);
        CHECK(preamble.size() == 64);  // 32 + 2 + 30

        CHECK(build_auth_preamble(hash, 0) == concat({hash, hex("0000")}));
        Bytes appended = {0xaa};
        append_auth_preamble(appended, hash, 0x0102);
        CHECK(appended.size() == 1 + 34 + 0x0102);
        CHECK(appended[33] == 0x01);
        CHECK(appended[34] == 0x02);
    }

    TEST_CASE("auth preamble: parser at every split point") {
        const PasswordHash hash = hash_of("secret");
        Bytes frames;
        REQUIRE(append_frame(frames, Command::settings, 0, std::string_view("v=2")).ok());
        REQUIRE(append_frame(frames, Command::syn, 1, std::string_view()).ok());
        const Bytes stream = concat({build_auth_preamble(hash, 30), frames});

        for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
            CAPTURE(cut);
            AuthPreambleParser parser;
            const std::span<const std::uint8_t> all(stream);
            const auto outcome = feed_all(parser, {all.first(cut), all.subspan(cut)});
            REQUIRE(outcome.done);
            CHECK(outcome.rest == frames);
            CHECK(parser.password_hash() == hash);
            CHECK(parser.padding_length() == 30);
            CHECK(parser.consumed() == 64);
        }

        // Two cuts anywhere in the preamble.
        for (std::size_t i = 0; i <= 64; ++i) {
            for (std::size_t j = i; j <= 64; ++j) {
                AuthPreambleParser parser;
                const std::span<const std::uint8_t> all(stream);
                const auto outcome =
                    feed_all(parser, {all.first(i), all.subspan(i, j - i), all.subspan(j)});
                REQUIRE(outcome.done);
                REQUIRE(outcome.rest == frames);
            }
        }
    }

    TEST_CASE("auth preamble: one byte at a time") {
        const PasswordHash hash = hash_of("secret");
        const Bytes stream = concat({build_auth_preamble(hash, 5), hex("01 00000001 0000")});
        AuthPreambleParser parser;
        std::vector<std::span<const std::uint8_t>> pieces;
        for (std::size_t i = 0; i < stream.size(); ++i)
            pieces.push_back(std::span(stream).subspan(i, 1));
        std::size_t done_at = 0;
        Bytes rest;
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            CHECK(parser.has_password_hash() == (i >= 32));
            auto progress = parser.feed(pieces[i]);
            REQUIRE(progress.ok());
            if (progress->status == AuthPreambleParser::Status::done) {
                if (done_at == 0) done_at = i + 1;
                rest.insert(rest.end(), progress->rest.begin(), progress->rest.end());
            }
        }
        CHECK(done_at == 34 + 5);
        CHECK(rest == hex("01 00000001 0000"));
        CHECK(parser.done());
    }

    TEST_CASE("auth preamble: zero padding, empty feeds, and bytes fed after done") {
        const PasswordHash hash = hash_of("x");
        const Bytes preamble = build_auth_preamble(hash, 0);
        AuthPreambleParser parser;
        auto empty = parser.feed({});
        REQUIRE(empty.ok());
        CHECK(empty->status == AuthPreambleParser::Status::need_more);
        auto done = parser.feed(preamble);
        REQUIRE(done.ok());
        CHECK(done->status == AuthPreambleParser::Status::done);
        CHECK(done->rest.empty());
        const Bytes later = hex("02 00000001 0001 41");
        auto after = parser.feed(later);
        REQUIRE(after.ok());
        CHECK(after->status == AuthPreambleParser::Status::done);
        CHECK(Bytes(after->rest.begin(), after->rest.end()) == later);
    }

    TEST_CASE("auth preamble: padding bytes are not checked (the references skip them)") {
        const PasswordHash hash = hash_of("x");
        const Bytes stream = concat({hash, hex("0003 ffffff 09")});
        AuthPreambleParser parser;
        auto progress = parser.feed(stream);
        REQUIRE(progress.ok());
        CHECK(progress->status == AuthPreambleParser::Status::done);
        CHECK(Bytes(progress->rest.begin(), progress->rest.end()) == hex("09"));
    }

    TEST_CASE("auth preamble: the padding cap") {
        CHECK(reference_max_auth_padding == 15326);
        const PasswordHash hash = hash_of("x");

        AuthPreambleParser at_cap;
        auto ok = at_cap.feed(build_auth_preamble(hash, 15326));
        REQUIRE(ok.ok());
        CHECK(ok->status == AuthPreambleParser::Status::done);

        // Rejected as soon as the length is known, before any padding arrives.
        AuthPreambleParser over;
        const Bytes header = concat({hash, hex("3bdf")});  // 15327
        auto rejected = over.feed(header);
        REQUIRE_FALSE(rejected.ok());
        CHECK(rejected.code() == errc::protocol);
        auto again = over.feed(Bytes(10, 0));
        REQUIRE_FALSE(again.ok());
        CHECK(again.code() == errc::protocol);
        CHECK_FALSE(over.done());

        AuthPreambleParser custom(10);
        CHECK(custom.feed(build_auth_preamble(hash, 10)).ok());
        AuthPreambleParser custom_over(10);
        CHECK(custom_over.feed(build_auth_preamble(hash, 11)).code() == errc::protocol);

        AuthPreambleParser any(65535);
        auto full = any.feed(build_auth_preamble(hash, 65535));
        REQUIRE(full.ok());
        CHECK(full->status == AuthPreambleParser::Status::done);
    }

    TEST_CASE("auth preamble: hash comparison") {
        const PasswordHash a = hash_of("alice");
        const PasswordHash b = hash_of("bob");
        const PasswordHash c = hash_of("carol");
        CHECK(password_hashes_equal(a, a));
        CHECK_FALSE(password_hashes_equal(a, b));
        PasswordHash last_differs = a;
        last_differs[31] ^= 1;
        CHECK_FALSE(password_hashes_equal(a, last_differs));
        PasswordHash first_differs = a;
        first_differs[0] ^= 0x80;
        CHECK_FALSE(password_hashes_equal(a, first_differs));

        const std::vector<PasswordHash> users = {a, b, c};
        CHECK(find_password_hash(a, users) == std::optional<std::size_t>(0));
        CHECK(find_password_hash(b, users) == std::optional<std::size_t>(1));
        CHECK(find_password_hash(c, users) == std::optional<std::size_t>(2));
        CHECK_FALSE(find_password_hash(hash_of("mallory"), users));
        CHECK_FALSE(find_password_hash(a, {}));
        const std::vector<PasswordHash> duplicates = {b, c, b};
        CHECK(find_password_hash(b, duplicates) == std::optional<std::size_t>(0));
    }

}  // TEST_SUITE
