// What the pool policy sees of a pool: a snapshot of its sessions at one instant.
//
// The policy (policy.hpp) never touches a live session and never reads a clock (docs/DESIGN.md,
// "Pure logic"): SessionPool copies these few fields out of its sessions, passes `now` from its
// Clock, and carries out the returned plan. Tests and the simulator build snapshots directly.
#pragma once

#include <chrono>
#include <cstdint>

namespace anytls::pool {

// steady_clock's time point: the real pool passes its clock's now(); tests and the simulator
// use TimePoint{} + offset as a virtual clock.
using TimePoint = std::chrono::steady_clock::time_point;
using Duration = std::chrono::nanoseconds;

// docs/DESIGN.md, "The session pool": a session is creating, idle (no stream), busy (one stream) or
// closed; closed sessions are gone from the pool and never appear in a snapshot. Named apart from
// session::SessionState, which is the protocol state of one connection, not its place in a pool.
enum class PoolSessionState { creating, idle, busy };

struct SessionInfo {
    // Per-client sequence number, from 1; higher = newer (docs/DESIGN.md, "The session pool").
    std::uint64_t seq = 0;
    PoolSessionState state = PoolSessionState::idle;
    TimePoint created_at{};  // when the session became usable (handshake done)
    TimePoint idle_since{};  // when it last became idle; meaningful for idle sessions only
    Duration lifetime{0};    // drawn once at creation by draw_lifetime(); 0 = no age limit
};

}  // namespace anytls::pool
