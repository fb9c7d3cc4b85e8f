// "Did you mean" for unknown configuration keys: the closest known name by edit distance.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace anytls::config {

// Edit distance with adjacent transpositions (optimal string alignment): insert, delete,
// substitute and swap two neighbours each cost 1, so "prot" is one typo away from "port".
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `unknown`, if it is close enough to be a plausible typo: at most
// 3 edits, and at most half the longer name (so "ip" does not suggest "sni").
// Ties go to the earliest candidate.
std::optional<std::string_view> closest_name(std::string_view unknown,
                                             std::span<const std::string_view> candidates);

}  // namespace anytls::config
