#include "base/page_buffer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <new>
#include <utility>

namespace anytls {

namespace {

std::size_t page_size() {
    static const auto size = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    return size;
}

// Set when the calling thread's cache is destroyed (thread exit): a buffer freed later, by
// another thread-local or static destructor, is unmapped instead.
thread_local bool cache_destroyed = false;

// The calling thread's freed mappings (page_buffer.hpp says why); unmapped at thread exit.
struct MappingCache {
    struct Mapping {
        std::byte* data = nullptr;
        std::size_t size = 0;
    };
    std::array<Mapping, PageBuffer::kCachedPerThread> slots{};
    std::size_t count = 0;

    ~MappingCache() {
        cache_destroyed = true;
        release_all();
    }

    void release_all() {
        for (std::size_t i = 0; i < count; ++i) ::munmap(slots[i].data, slots[i].size);
        count = 0;
    }

    std::byte* take(std::size_t size) {
        for (std::size_t i = count; i > 0; --i) {
            if (slots[i - 1].size != size) continue;
            std::byte* data = slots[i - 1].data;
            slots[i - 1] = slots[--count];
            return data;
        }
        return nullptr;
    }

    bool keep(std::byte* data, std::size_t size) {
        if (size > PageBuffer::kMaxCachedSize || count == slots.size()) return false;
        // Every page but the first goes back to the kernel: pages the previous owner never
        // wrote are not mapped, so this costs no TLB shootdown for a short stream.
        const std::size_t page = page_size();
        if (size > page && ::madvise(data + page, size - page, MADV_DONTNEED) != 0) return false;
        slots[count++] = Mapping{data, size};
        return true;
    }
};

MappingCache* this_thread_cache() {
    if (cache_destroyed) return nullptr;
    thread_local MappingCache cache;
    return &cache;
}

}  // namespace

PageBuffer::PageBuffer(std::size_t size) : size_(size) {
    if (size == 0) return;
    if (size <= kMaxCachedSize) {
        MappingCache* cache = this_thread_cache();
        if (std::byte* reused = cache ? cache->take(size) : nullptr) {
            data_ = reused;
            return;
        }
    }
    void* mapped =
        ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) throw std::bad_alloc();
    data_ = static_cast<std::byte*>(mapped);
}

PageBuffer::~PageBuffer() { release(); }

void PageBuffer::release() {
    if (!data_) return;
    MappingCache* cache = this_thread_cache();
    if (!cache || !cache->keep(data_, size_)) ::munmap(data_, size_);
    data_ = nullptr;
    size_ = 0;
}

PageBuffer::PageBuffer(PageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& other) noexcept {
    if (this != &other) {
        release();
        data_ = std::exchange(other.data_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

std::size_t PageBuffer::cached_in_this_thread() {
    const MappingCache* cache = this_thread_cache();
    return cache ? cache->count : 0;
}

void PageBuffer::release_cached_in_this_thread() {
    if (MappingCache* cache = this_thread_cache()) cache->release_all();
}

}  // namespace anytls
