// The retry and replay decisions of an open (see open_retry.hpp).
#include "pool/open_retry.hpp"

namespace anytls::pool {

bool retry_on_fresh_session(const SynFailure& failure) {
    return failure.warm && !failure.already_retried && !failure.pool_stopping &&
           !failure.deadline_expired;
}

bool replay_on_fresh_session(const StreamFailure& failure) {
    if (!failure.warm && !failure.refused) return false;
    return !failure.already_replayed && !failure.released && !failure.pool_stopping &&
           failure.replayable;
}

}  // namespace anytls::pool
