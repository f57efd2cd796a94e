#include "config/did_you_mean.h"

#include <algorithm>
#include <numeric>

namespace fiberlb::config {

int editDistance(std::string_view a, std::string_view b) {
  // One row of the classic dynamic-programming table is enough.
  std::vector<int> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (size_t i = 1; i <= a.size(); ++i) {
    int diagonal = row[0];
    row[0] = static_cast<int>(i);
    for (size_t j = 1; j <= b.size(); ++j) {
      const int above = row[j];
      const int substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closestMatch(std::string_view word, const std::vector<std::string>& candidates,
                         int max_distance) {
  std::string best;
  int best_distance = max_distance + 1;
  for (const std::string& candidate : candidates) {
    const int d = editDistance(word, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string didYouMeanSuffix(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string match = closestMatch(word, candidates);
  return match.empty() ? std::string() : " (did you mean '" + match + "'?)";
}

}  // namespace fiberlb::config
