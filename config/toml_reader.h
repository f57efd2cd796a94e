#pragma once
// TableReader: reads one TOML table into config structs, checking each value's type and
// range and reporting problems with the value's line:column and full key path. Every key
// asked for is remembered, so that finish() can warn about the keys nobody knows.

#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"

namespace fiberlb::config {

template <typename E>
struct Choice {
  const char* name;
  E value;
};

// Allowed values of a floating-point key.
struct NumberRange {
  double low;
  double high;
  bool low_exclusive;  // true: the value must be strictly greater than `low`
};
inline constexpr double kInfinity = std::numeric_limits<double>::infinity();
inline constexpr NumberRange kPositive{0, kInfinity, true};
inline constexpr NumberRange kNonNegative{0, kInfinity, false};
inline constexpr NumberRange kFraction{0, 1, false};

inline constexpr int64_t kNoMax = std::numeric_limits<int64_t>::max();

SourcePos toSourcePos(const toml::source_region& region);

class TableReader {
 public:
  enum class Need { Optional, Required };

  // `table` may be null: an absent table reads as defaults everywhere. `pos` is where the
  // table starts, or for an absent table the place to blame for missing things.
  TableReader(const toml::table* table, std::string path, SourcePos pos, Diagnostics& diags);

  bool present() const { return table_ != nullptr; }
  const std::string& path() const { return path_; }
  SourcePos pos() const { return pos_; }
  // Where the key's value is, or where the table starts when the key is absent.
  SourcePos pos(std::string_view key) const;
  std::string keyPath(std::string_view key) const;

  // Each read leaves `out` untouched and returns false when the key is absent or invalid.
  bool readString(std::string_view key, std::string& out, Need need = Need::Optional);
  // A string that must not be empty when given (names, ids, addresses).
  bool readNonEmptyString(std::string_view key, std::string& out, Need need = Need::Optional);
  bool readInt(std::string_view key, int& out, int64_t low, int64_t high,
               Need need = Need::Optional);
  bool readInt64(std::string_view key, int64_t& out, int64_t low, int64_t high,
                 Need need = Need::Optional);
  bool readNumber(std::string_view key, double& out, NumberRange range);
  bool readBool(std::string_view key, bool& out);
  bool readStringList(std::string_view key, std::vector<std::string>& out);

  template <typename E, size_t N>
  bool readChoice(std::string_view key, E& out, const std::array<Choice<E>, N>& choices) {
    std::vector<std::string> names;
    names.reserve(N);
    for (const Choice<E>& c : choices)
      names.emplace_back(c.name);
    const int index = readChoiceIndex(key, names);
    if (index < 0) return false;
    out = choices[static_cast<size_t>(index)].value;
    return true;
  }

  // A sub-table; absent (present() == false) when missing or not a table (an error).
  TableReader table(std::string_view key);
  // The elements of an array of tables ([[key]]); empty when missing or malformed.
  std::vector<TableReader> tableArray(std::string_view key);

  void error(std::string_view key, const std::string& message);
  void warning(std::string_view key, const std::string& message);

  // Warns about every key of the table that no read asked for. Call after all reads.
  void finish();

 private:
  const toml::node* lookup(std::string_view key);
  bool readInteger(std::string_view key, int64_t& out, int64_t low, int64_t high, Need need);
  int readChoiceIndex(std::string_view key, const std::vector<std::string>& names);
  void missing(std::string_view key);
  void wrongType(std::string_view key, const toml::node& node, const char* expected);

  const toml::table* table_;
  std::string path_;
  SourcePos pos_;
  Diagnostics* diags_;
  std::vector<std::string> known_;
};

// Records `value` (read from `key` of `r`) in `seen`, which maps each value to the table
// that used it first. A repeat is an error naming that first use, followed by `rule`.
bool checkUnique(TableReader& r, std::string_view key, const std::string& value,
                 std::map<std::string, std::string>& seen, const std::string& what,
                 const std::string& rule);

}  // namespace fiberlb::config
