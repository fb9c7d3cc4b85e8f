// PageBuffer (lib/base/page_buffer.hpp): mapped pages that cost memory only once written.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <utility>
#include <vector>

#include "base/page_buffer.hpp"

using anytls::PageBuffer;

namespace {

// How many pages of the buffer are resident (mincore).
std::size_t resident_pages(const PageBuffer& buffer) {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> flags((buffer.size() + page - 1) / page);
    REQUIRE(::mincore(buffer.data(), buffer.size(), flags.data()) == 0);
    std::size_t n = 0;
    for (auto f : flags) n += f & 1;
    return n;
}

}  // namespace

TEST_SUITE("io") {
    TEST_CASE("PageBuffer: only the pages written become resident; moves hand the mapping over") {
        PageBuffer buffer(64 * 1024);
        REQUIRE(buffer.data() != nullptr);
        CHECK(buffer.size() == 64 * 1024);
        CHECK(buffer.span().size() == 64 * 1024);
        CHECK(resident_pages(buffer) == 0);
        std::memset(buffer.data(), 0x5a, 100);  // a small receive at the front
        CHECK(resident_pages(buffer) == 1);
        buffer.data()[64 * 1024 - 1] = std::byte{1};
        CHECK(resident_pages(buffer) == 2);

        std::byte* mapped = buffer.data();
        PageBuffer moved(std::move(buffer));
        CHECK(moved.data() == mapped);
        CHECK(buffer.data() ==
              nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is the point
        CHECK(buffer.size() == 0);
        CHECK(std::to_integer<int>(moved.data()[99]) == 0x5a);

        PageBuffer other(4096);
        other = std::move(moved);  // the old mapping of `other` is released, this one taken over
        CHECK(other.data() == mapped);
        CHECK(other.size() == 64 * 1024);

        PageBuffer empty(0);
        CHECK(empty.data() == nullptr);
        CHECK(empty.span().empty());
    }

}  // TEST_SUITE
