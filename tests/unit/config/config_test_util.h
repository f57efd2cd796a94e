#pragma once
// Helpers shared by the config unit tests.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/config.h"

namespace fiberlb::config::testing {

inline LoadResult load(const std::string& text, const Overrides& overrides = {}) {
  return loadString(text, "test.toml", overrides);
}

// Every diagnostic as "file:line:col: key: message", one a line, for failure messages.
inline std::string dump(const std::vector<Diagnostic>& list) {
  std::string out;
  for (const Diagnostic& d : list)
    out += d.str() + "\n";
  return out;
}

inline const Diagnostic* findKey(const std::vector<Diagnostic>& list, const std::string& key) {
  for (const Diagnostic& d : list) {
    if (d.key == key) return &d;
  }
  return nullptr;
}

}  // namespace fiberlb::config::testing
