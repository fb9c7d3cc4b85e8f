// PageBuffer (lib/base/page_buffer.hpp): mapped pages that cost memory only once written.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <thread>
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
        PageBuffer::release_cached_in_this_thread();  // a fresh mapping, not a reused one
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

    TEST_CASE("PageBuffer: a freed mapping is reused with only its first page still resident") {
        PageBuffer::release_cached_in_this_thread();
        std::byte* first = nullptr;
        {
            PageBuffer bulk(64 * 1024);
            first = bulk.data();
            std::memset(bulk.data(), 0x11, bulk.size());  // a bulk stream wrote every page
            CHECK(resident_pages(bulk) == 16);
        }
        CHECK(PageBuffer::cached_in_this_thread() == 1);

        PageBuffer other_size(32 * 1024);  // a different size does not take it
        CHECK(other_size.data() != first);
        CHECK(PageBuffer::cached_in_this_thread() == 1);

        PageBuffer reused(64 * 1024);
        CHECK(reused.data() == first);
        CHECK(PageBuffer::cached_in_this_thread() == 0);
        CHECK(resident_pages(reused) == 1);  // the rest went back to the kernel
        CHECK(std::to_integer<int>(reused.data()[64 * 1024 - 1]) == 0);  // and reads as zeros
    }

    TEST_CASE("PageBuffer: the cache keeps a bounded number of mappings, none of the large ones") {
        PageBuffer::release_cached_in_this_thread();
        {
            std::vector<PageBuffer> many;
            for (std::size_t i = 0; i < PageBuffer::kCachedPerThread + 4; ++i)
                many.emplace_back(64 * 1024);
        }
        CHECK(PageBuffer::cached_in_this_thread() == PageBuffer::kCachedPerThread);
        { PageBuffer large(PageBuffer::kMaxCachedSize * 2); }
        CHECK(PageBuffer::cached_in_this_thread() == PageBuffer::kCachedPerThread);
        PageBuffer::release_cached_in_this_thread();
        CHECK(PageBuffer::cached_in_this_thread() == 0);
    }

    TEST_CASE("PageBuffer: a buffer freed on another thread goes to that thread's cache") {
        PageBuffer::release_cached_in_this_thread();
        PageBuffer moved_away(64 * 1024);
        std::size_t cached_there = 0;
        std::thread other([&] {
            { PageBuffer taken(std::move(moved_away)); }
            cached_there = PageBuffer::cached_in_this_thread();
        });  // that thread's cache is unmapped at its exit
        other.join();
        CHECK(cached_there == 1);
        CHECK(PageBuffer::cached_in_this_thread() == 0);
    }
}  // TEST_SUITE
