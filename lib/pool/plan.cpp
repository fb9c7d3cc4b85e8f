// The debug line texts of a cleanup cycle (see plan.hpp). Their wording is the feature
// description's, character for character, so users can grep for them as they do in mihomo.
#include "pool/plan.hpp"

#include <fmt/format.h>

namespace anytls::pool {

std::string idle_cleanup_line(const IdleCleanupCounts& counts) {
    return fmt::format(
        "[AnyTLS] Idle cleanup: found {} idle sessions, closing {} (keeping {} protected)",
        counts.found, counts.closing, counts.kept_protected);
}

std::string age_cleanup_line(const AgeCleanupCounts& counts) {
    return fmt::format("[AnyTLS] Age cleanup: closing {} aged sessions (keeping {} protected)",
                       counts.closing, counts.kept_protected);
}

std::string proactive_line(const ProactiveCounts& counts) {
    return fmt::format(
        "[AnyTLS] Proactive pool maintenance: current={}, target={}, creating {} sessions",
        counts.current, counts.target, counts.creating);
}

std::string created_proactive_session_line(std::uint64_t seq) {
    return fmt::format("[AnyTLS] Created proactive session #{}", seq);
}

}  // namespace anytls::pool
