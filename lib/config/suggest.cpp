// Edit distance and key suggestions (see suggest.hpp).
#include "config/suggest.hpp"

#include <algorithm>
#include <numeric>
#include <vector>

namespace anytls::config {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    // Three rows of the dynamic-programming table: the transposition looks two rows back.
    std::vector<std::size_t> before(b.size() + 1), previous(b.size() + 1), current(b.size() + 1);
    std::iota(previous.begin(), previous.end(), std::size_t{0});
    for (std::size_t i = 1; i <= a.size(); ++i) {
        current[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t substitute = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitute});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                current[j] = std::min(current[j], before[j - 2] + 1);
        }
        std::swap(before, previous);
        std::swap(previous, current);
    }
    return previous[b.size()];
}

std::optional<std::string_view> closest_name(std::string_view unknown,
                                             std::span<const std::string_view> candidates) {
    std::optional<std::string_view> best;
    std::size_t best_distance = 0;
    for (std::string_view candidate : candidates) {
        // Each edit changes the length by at most one, so a length gap over 3 rules the
        // candidate out without the quadratic table (a long unknown key stays cheap).
        const std::size_t gap =
            std::max(unknown.size(), candidate.size()) - std::min(unknown.size(), candidate.size());
        if (gap > 3) continue;
        const std::size_t distance = edit_distance(unknown, candidate);
        const std::size_t longer = std::max(unknown.size(), candidate.size());
        if (distance > 3 || distance * 2 > longer) continue;
        if (!best || distance < best_distance) {
            best = candidate;
            best_distance = distance;
        }
    }
    return best;
}

}  // namespace anytls::config
