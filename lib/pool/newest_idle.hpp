// Which idle session an open takes: the newest, the one with the highest seq (docs/DESIGN.md,
// "The session pool"). Reusing newest-first lets the oldest idle sessions age out, and it is
// the order the idle cleanup walks, so the sessions cleanup keeps are the ones opens take.
//
// One implementation for SessionPool (over its entries) and PoolSimulator (over its idle
// index): `info` projects an element to something with `seq` and `state` members.
#pragma once

#include <iterator>
#include <ranges>

#include "pool/session_snapshot.hpp"

namespace anytls::pool {

// The newest idle element of `sessions`, or end when none is idle.
template <std::ranges::forward_range Range, class Info>
std::ranges::iterator_t<Range> newest_idle(Range& sessions, Info info) {
    auto best = std::ranges::end(sessions);
    for (auto it = std::ranges::begin(sessions); it != std::ranges::end(sessions); ++it) {
        const auto& candidate = info(*it);
        if (candidate.state != PoolSessionState::idle) continue;
        if (best == std::ranges::end(sessions) || candidate.seq > info(*best).seq) best = it;
    }
    return best;
}

}  // namespace anytls::pool
