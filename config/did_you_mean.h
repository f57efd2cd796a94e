#pragma once
// Suggestions for mistyped keys and values, so that "wieght" points at "weight".

#include <string>
#include <string_view>
#include <vector>

namespace fiberlb::config {

// Levenshtein distance (insert, delete, substitute each cost 1).
int editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is at most `max_distance` edits away; "" if none.
std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates,
                         int max_distance = 2);

// " (did you mean 'x'?)" or "" — ready to append to a message.
std::string didYouMeanSuffix(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace fiberlb::config
