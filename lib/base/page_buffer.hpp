// PageBuffer: a fixed-size buffer of whole pages taken straight from the kernel (mmap).
//
// Every connection keeps a few 64 KiB buffers for its whole life (TLS input, frame reads,
// relays) and an idle one writes only the first page or two of each. From mmap, pages never
// written cost no memory, and freeing the buffer returns all of it at once. From malloc, the
// same buffers are carved out of the heap, where freed ones stay resident and live ones pin
// the pages of whatever small objects sit around them: with 9,900 idle sessions the socks
// entry held 62.6 KiB per session that way and 22.5 KiB with these buffers mapped.
// Allocation is one mmap and one munmap per buffer, so it is meant for buffers that live as
// long as a connection or stream, not for one I/O operation.
#pragma once

#include <cstddef>
#include <span>

namespace anytls {

class PageBuffer {
public:
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

private:
    std::byte* data_ = nullptr;
    std::size_t size_ = 0;
};

}  // namespace anytls
