#pragma once
// "Did you mean ...?" for misspelt keys, names and values: edit distance and the closest candidate.
#include <string>
#include <vector>

namespace caspl {

// Levenshtein distance (insertions, deletions, substitutions; each costs 1), case-sensitive.
int editDistance(const std::string& a, const std::string& b);

// The candidate closest to `word` by editDistance, compared case-insensitively, or "" when none is close enough:
// close means a distance <= max(2, |word| / 3), or `word` (3+ characters) being a prefix of the candidate.
// Ties go to the earlier candidate.
std::string closestMatch(const std::string& word, const std::vector<std::string>& candidates);

// "a, b, c" (for messages that list the valid choices).
std::string joinNames(const std::vector<std::string>& names, const std::string& separator = ", ");

}  // namespace caspl
