#include "config/toml_reader.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "config/did_you_mean.h"

namespace fiberlb::config {

namespace {

const char* typeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::array:
      return "array";
    case toml::node_type::table:
      return "table";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string formatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

std::string rangeMessage(int64_t value, int64_t low, int64_t high) {
  // A bound as large as the type's own is no real bound: say only what the minimum is.
  if (value < low && high >= std::numeric_limits<int>::max()) {
    return "must be at least " + std::to_string(low) + ", got " + std::to_string(value);
  }
  return "must be between " + std::to_string(low) + " and " + std::to_string(high) + ", got " +
         std::to_string(value);
}

std::string rangeMessage(double value, NumberRange range) {
  const std::string got = ", got " + formatNumber(value);
  if (range.low_exclusive) return "must be greater than " + formatNumber(range.low) + got;
  if (range.high == kInfinity) return "must be at least " + formatNumber(range.low) + got;
  return "must be between " + formatNumber(range.low) + " and " + formatNumber(range.high) + got;
}

// "standalone.loadbalancers[0].backends" -> "standalone.loadbalancers.backends", the way
// the path is written in a TOML table header.
std::string withoutIndices(const std::string& path) {
  std::string out;
  bool in_index = false;
  for (char c : path) {
    if (c == '[') in_index = true;
    if (!in_index) out += c;
    if (c == ']') in_index = false;
  }
  return out;
}

bool inRange(double value, NumberRange range) {
  const bool above_low = range.low_exclusive ? value > range.low : value >= range.low;
  return above_low && value <= range.high;
}

std::string joinQuoted(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names)
    out += (out.empty() ? "" : ", ") + ("'" + name + "'");
  return out;
}

}  // namespace

SourcePos toSourcePos(const toml::source_region& region) {
  return SourcePos{static_cast<int>(region.begin.line), static_cast<int>(region.begin.column)};
}

TableReader::TableReader(const toml::table* table, std::string path, SourcePos pos,
                         Diagnostics& diags)
    : table_(table), path_(std::move(path)), pos_(pos), diags_(&diags) {}

std::string TableReader::keyPath(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

SourcePos TableReader::pos(std::string_view key) const {
  const toml::node* node = table_ ? table_->get(key) : nullptr;
  if (node == nullptr || node->source().begin.line == 0) return pos_;
  return toSourcePos(node->source());
}

const toml::node* TableReader::lookup(std::string_view key) {
  known_.emplace_back(key);
  return table_ ? table_->get(key) : nullptr;
}

void TableReader::error(std::string_view key, const std::string& message) {
  diags_->error(pos(key), keyPath(key), message);
}

void TableReader::warning(std::string_view key, const std::string& message) {
  diags_->warning(pos(key), keyPath(key), message);
}

void TableReader::missing(std::string_view key) {
  diags_->error(pos_, keyPath(key), "missing required key '" + std::string(key) + "'");
}

void TableReader::wrongType(std::string_view key, const toml::node& node, const char* expected) {
  error(key, std::string("expected ") + expected + ", got " + typeName(node));
}

bool TableReader::readString(std::string_view key, std::string& out, Need need) {
  const toml::node* node = lookup(key);
  if (node == nullptr) {
    if (need == Need::Required) missing(key);
    return false;
  }
  if (const auto* s = node->as_string()) {
    out = s->get();
    return true;
  }
  // An environment value that happened to parse as TOML (PHOTON_COMPONENT_ID=42, a
  // min_version of 1.3) is still meant as text where the key wants text.
  if (const EnvOrigin* env = diags_->envOrigin(keyPath(key))) {
    out = env->raw_value;
    return true;
  }
  wrongType(key, *node, "a string");
  return false;
}

bool TableReader::readNonEmptyString(std::string_view key, std::string& out, Need need) {
  std::string value;
  if (!readString(key, value, need)) return false;
  if (value.empty()) {
    error(key, "must not be empty");
    return false;
  }
  out = std::move(value);
  return true;
}

bool TableReader::readInteger(std::string_view key, int64_t& out, int64_t low, int64_t high,
                              Need need) {
  const toml::node* node = lookup(key);
  if (node == nullptr) {
    if (need == Need::Required) missing(key);
    return false;
  }
  const auto* i = node->as_integer();
  if (i == nullptr) {
    wrongType(key, *node, "an integer");
    return false;
  }
  if (i->get() < low || i->get() > high) {
    error(key, rangeMessage(i->get(), low, high));
    return false;
  }
  out = i->get();
  return true;
}

bool TableReader::readInt(std::string_view key, int& out, int64_t low, int64_t high, Need need) {
  // Clamp the bounds so that every accepted value fits an int.
  low = std::max<int64_t>(low, std::numeric_limits<int>::min());
  high = std::min<int64_t>(high, std::numeric_limits<int>::max());
  int64_t value = 0;
  if (!readInteger(key, value, low, high, need)) return false;
  out = static_cast<int>(value);
  return true;
}

bool TableReader::readInt64(std::string_view key, int64_t& out, int64_t low, int64_t high,
                            Need need) {
  return readInteger(key, out, low, high, need);
}

bool TableReader::readNumber(std::string_view key, double& out, NumberRange range) {
  const toml::node* node = lookup(key);
  if (node == nullptr) return false;
  std::optional<double> value = node->value_exact<double>();
  if (const auto* i = node->as_integer()) value = static_cast<double>(i->get());
  if (!value) {
    wrongType(key, *node, "a number");
    return false;
  }
  if (!std::isfinite(*value)) {
    error(key, "must be a finite number, got " + formatNumber(*value));
    return false;
  }
  if (!inRange(*value, range)) {
    error(key, rangeMessage(*value, range));
    return false;
  }
  out = *value;
  return true;
}

bool TableReader::readBool(std::string_view key, bool& out) {
  const toml::node* node = lookup(key);
  if (node == nullptr) return false;
  const auto* b = node->as_boolean();
  if (b == nullptr) {
    wrongType(key, *node, "true or false");
    return false;
  }
  out = b->get();
  return true;
}

bool TableReader::readStringList(std::string_view key, std::vector<std::string>& out) {
  const toml::node* node = lookup(key);
  if (node == nullptr) return false;
  const auto* array = node->as_array();
  if (array == nullptr) {
    wrongType(key, *node, "an array of strings");
    return false;
  }
  std::vector<std::string> values;
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    if (const auto* s = element.as_string()) {
      values.push_back(s->get());
      continue;
    }
    diags_->error(toSourcePos(element.source()), keyPath(key) + "[" + std::to_string(i) + "]",
                  std::string("expected a string, got ") + typeName(element));
    return false;
  }
  out = std::move(values);
  return true;
}

int TableReader::readChoiceIndex(std::string_view key, const std::vector<std::string>& names) {
  std::string value;
  if (!readString(key, value)) return -1;
  auto it = std::find(names.begin(), names.end(), value);
  if (it != names.end()) return static_cast<int>(it - names.begin());
  error(key, "unknown value '" + value + "'" + didYouMeanSuffix(value, names) +
                 "; expected one of: " + joinQuoted(names));
  return -1;
}

TableReader TableReader::table(std::string_view key) {
  const toml::node* node = lookup(key);
  const toml::table* sub = node ? node->as_table() : nullptr;
  if (node != nullptr && sub == nullptr) wrongType(key, *node, "a table");
  return TableReader(sub, keyPath(key), pos(key), *diags_);
}

std::vector<TableReader> TableReader::tableArray(std::string_view key) {
  std::vector<TableReader> out;
  const toml::node* node = lookup(key);
  if (node == nullptr) return out;
  const auto* array = node->as_array();
  if (array == nullptr) {
    const std::string header = "[[" + withoutIndices(keyPath(key)) + "]]";
    wrongType(key, *node, ("an array of tables (one " + header + " section each)").c_str());
    return out;
  }
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string element_path = keyPath(key) + "[" + std::to_string(i) + "]";
    if (const auto* t = element.as_table()) {
      out.emplace_back(t, element_path, toSourcePos(t->source()), *diags_);
      continue;
    }
    diags_->error(toSourcePos(element.source()), element_path,
                  std::string("expected a table, got ") + typeName(element));
  }
  return out;
}

void TableReader::finish() {
  if (table_ == nullptr) return;
  for (const auto& [key, node] : *table_) {
    const std::string name(key.str());
    if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
    const SourcePos at = key.source().begin.line ? toSourcePos(key.source()) : pos_;
    const std::string hint = didYouMeanSuffix(name, known_);
    diags_->warning(at, keyPath(name),
                    "unknown key '" + name + "'" + (hint.empty() ? " (ignored)" : hint));
  }
}

bool checkUnique(TableReader& r, std::string_view key, const std::string& value,
                 std::map<std::string, std::string>& seen, const std::string& what,
                 const std::string& rule) {
  if (value.empty()) return true;  // a missing value is reported on its own
  const int line = r.pos(key).line;
  const std::string where = line > 0 ? r.path() + " at line " + std::to_string(line) : r.path();
  auto [it, fresh] = seen.emplace(value, where);
  if (!fresh) {
    r.error(key,
            "duplicate " + what + " '" + value + "' (first used by " + it->second + "); " + rule);
  }
  return fresh;
}

}  // namespace fiberlb::config
