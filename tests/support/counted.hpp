// Counts constructions and destructions (cppcoro's test/counted.hpp idea): a coroutine
// that holds a Counted local proves its frame was destroyed when alive() returns to zero.
#pragma once

#include <atomic>

namespace anytls::test {

struct Counted {
    static inline std::atomic<int> constructed{0};
    static inline std::atomic<int> destroyed{0};
    static void reset() {
        constructed = 0;
        destroyed = 0;
    }
    static int alive() { return constructed - destroyed; }

    Counted() { ++constructed; }
    Counted(const Counted&) { ++constructed; }
    Counted(Counted&&) noexcept { ++constructed; }
    ~Counted() { ++destroyed; }
};

}  // namespace anytls::test
