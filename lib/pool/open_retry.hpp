// When an open moves to a fresh session instead of failing (docs/DESIGN.md, "Opening a stream"
// and "When a stream is replayed").
//
// Pure rules; SessionPool and PooledStream gather the facts and carry out the answer.
#pragma once

namespace anytls::pool {

// The session failed while the open's SYN was being written. Like Go's http.Transport for
// idle connections: an open that took a reused (warm) session, which failed before any of
// the stream's bytes could reach the target, is retried once on a fresh session — unless
// the pool is stopping or the open's deadline has passed.
struct SynFailure {
    bool warm = false;             // the open took an idle session (not one created for it)
    bool already_retried = false;  // this is the retry
    bool pool_stopping = false;
    bool deadline_expired = false;
};
bool retry_on_fresh_session(const SynFailure& failure);

// The stream failed before its SYNACK. It is replayed once on a fresh session when nothing of
// it was heard back: its session was a reused one that died, or the server ended the stream
// before its SYNACK (a refusal the session survives); and it still has its bytes.
struct StreamFailure {
    bool warm = false;     // the stream took an idle session
    bool refused = false;  // ended by the server before its SYNACK
    bool already_replayed = false;
    bool released = false;  // linger() already handed its session back
    bool pool_stopping = false;
    bool replayable = false;  // the stream kept every byte it sent (within the replay limit)
};
bool replay_on_fresh_session(const StreamFailure& failure);

}  // namespace anytls::pool
