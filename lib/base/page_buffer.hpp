// PageBuffer: a fixed-size buffer of whole pages taken straight from the kernel (mmap).
//
// Every connection keeps a few 64 KiB buffers for its whole life (TLS input, frame reads,
// relays) and an idle one writes only the first page or two of each. From mmap, pages never
// written cost no memory, and freeing the buffer returns all of it at once. From malloc, the
// same buffers are carved out of the heap, where freed ones stay resident and live ones pin
// the pages of whatever small objects sit around them: with 9,900 idle sessions the socks
// entry held 62.6 KiB per session that way and 22.5 KiB with these buffers mapped.
//
// Streams come and go by the thousand, each with two relay buffers, and a fresh mapping per
// buffer costs an mmap, a munmap and, for pages the stream wrote, a TLB shootdown on every
// CPU running the process. So a freed buffer of a cached size goes to a small per-thread
// cache (kCachedPerThread mappings), with every page but its first handed back to the kernel
// (MADV_DONTNEED): the next buffer of that size reuses the mapping, and holds no more resident
// memory than a fresh one that took one small read (docs/DESIGN.md, "Relays").
#pragma once

#include <cstddef>
#include <span>

namespace anytls {

class PageBuffer {
public:
    // Mappings of at most this size are cached when freed; larger ones are unmapped.
    static constexpr std::size_t kMaxCachedSize = 128 * 1024;
    // Freed mappings each thread keeps for reuse.
    static constexpr std::size_t kCachedPerThread = 8;

    // Throws std::bad_alloc when the kernel refuses the mapping, as operator new would.
    explicit PageBuffer(std::size_t size);
    ~PageBuffer();
    PageBuffer(PageBuffer&& other) noexcept;
    PageBuffer& operator=(PageBuffer&& other) noexcept;
    PageBuffer(const PageBuffer&) = delete;
    PageBuffer& operator=(const PageBuffer&) = delete;

    std::byte* data() const { return data_; }
    std::size_t size() const { return size_; }
    std::span<std::byte> span() const { return {data_, size_}; }

    // Mappings in the calling thread's cache, and unmapping them all.
    static std::size_t cached_in_this_thread();
    static void release_cached_in_this_thread();

private:
    void release();

    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace anytls
