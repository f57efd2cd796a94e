#include "config/env_overrides.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <string_view>

#include "config/config.h"

extern char** environ;

namespace fiberlb::config {

namespace {

constexpr std::string_view kPrefix = "PHOTON_";
constexpr std::string_view kGenericPrefix = "PHOTON__";

struct NamedVariable {
  std::string_view variable;
  std::vector<std::string> path;
};

const std::vector<NamedVariable>& namedVariables() {
  static const std::vector<NamedVariable> named{
      {"PHOTON_MODE", {"photon", "mode"}},
      {"PHOTON_COMPONENT_ID", {"photon", "component_id"}},
      {"PHOTON_LOG_LEVEL", {"photon", "logging", "level"}},
      {"PHOTON_ADMIN_TOKEN", {"standalone", "server", "admin_token"}},
  };
  return named;
}

// Read elsewhere (findConfigPath), so not a config key and not a typo.
constexpr std::string_view kConfigVariable = "PHOTON_CONFIG";

bool isIndex(const std::string& segment) {
  return !segment.empty() && segment.size() < 9 &&
         std::all_of(segment.begin(), segment.end(),
                     [](unsigned char c) { return std::isdigit(c) != 0; });
}

// "STANDALONE__SERVER__WORKERS" -> {"standalone", "server", "workers"}; nullopt when a
// segment is empty (four underscores in a row, or a trailing "__").
std::optional<std::vector<std::string>> splitGeneric(std::string_view rest) {
  std::vector<std::string> segments;
  while (true) {
    const size_t sep = rest.find("__");
    std::string segment(rest.substr(0, sep));
    if (segment.empty()) return std::nullopt;
    std::transform(segment.begin(), segment.end(), segment.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    segments.push_back(std::move(segment));
    if (sep == std::string_view::npos) return segments;
    rest.remove_prefix(sep + 2);
  }
}

// The value as TOML when it parses as one (2, 0.5, true, ["a"]), else as a plain string.
toml::table parseValue(const std::string& raw) {
  try {
    toml::table doc = toml::parse("v = " + raw);
    if (doc.size() == 1 && doc.contains("v")) return doc;
  } catch (const toml::parse_error&) {
    // Not TOML: the text itself is the value.
  }
  toml::table doc;
  doc.insert_or_assign("v", raw);
  return doc;
}

std::string childPath(const std::string& parent, const std::string& segment, bool index) {
  if (index) return parent + "[" + segment + "]";
  return parent.empty() ? segment : parent + "." + segment;
}

class Writer {
 public:
  Writer(toml::table& root, Diagnostics& diags) : root_(root), diags_(diags) {}

  void set(const std::string& variable, const std::string& raw,
           const std::vector<std::string>& path, const toml::node& value);

 private:
  toml::node* descend(toml::node& parent, const std::string& parent_path,
                      const std::string& segment, const std::string& variable);
  void refuse(const std::string& variable, const std::string& why) {
    diags_.warningFrom("environment", variable, why + "; variable ignored");
  }

  toml::table& root_;
  Diagnostics& diags_;
};

// Steps from `parent` to its child `segment`, creating missing tables on the way.
toml::node* Writer::descend(toml::node& parent, const std::string& parent_path,
                            const std::string& segment, const std::string& variable) {
  if (auto* array = parent.as_array()) {
    const size_t index = isIndex(segment) ? std::stoul(segment) : array->size();
    if (index < array->size()) return array->get(index);
    refuse(variable, parent_path + " has no element " + segment);
    return nullptr;
  }
  auto* table = parent.as_table();
  if (table == nullptr) {
    refuse(variable, parent_path + " is not a table");
    return nullptr;
  }
  if (toml::node* child = table->get(segment)) return child;
  table->insert_or_assign(segment, toml::table{});
  diags_.noteEnvOrigin(childPath(parent_path, segment, false), {variable, ""});
  return table->get(segment);
}

void Writer::set(const std::string& variable, const std::string& raw,
                 const std::vector<std::string>& path, const toml::node& value) {
  toml::node* node = &root_;
  std::string node_path;
  for (size_t i = 0; i + 1 < path.size() && node != nullptr; ++i) {
    const bool index = node->is_array();
    node = descend(*node, node_path, path[i], variable);
    node_path = childPath(node_path, path[i], index);
  }
  if (node == nullptr) return;
  const std::string& last = path.back();
  if (auto* table = node->as_table()) {
    table->insert_or_assign(last, value);
  } else if (auto* array = node->as_array(); array && isIndex(last)) {
    const size_t index = std::stoul(last);
    if (index >= array->size()) return refuse(variable, node_path + " has no element " + last);
    array->replace(array->cbegin() + static_cast<std::ptrdiff_t>(index), value);
  } else {
    return refuse(variable, node_path + " is not a table");
  }
  diags_.noteEnvOrigin(childPath(node_path, last, node->is_array()), {variable, raw});
}

const NamedVariable* findNamed(std::string_view name) {
  for (const NamedVariable& n : namedVariables()) {
    if (n.variable == name) return &n;
  }
  return nullptr;
}

void applyGeneric(Writer& writer, const EnvList& env, Diagnostics& diags) {
  for (const auto& [name, raw] : env) {
    if (name.rfind(kGenericPrefix, 0) != 0) continue;
    const auto path = splitGeneric(std::string_view(name).substr(kGenericPrefix.size()));
    if (!path) {
      diags.warningFrom("environment", name,
                        "cannot tell which key this sets: separate table levels with exactly "
                        "two underscores, e.g. PHOTON__STANDALONE__SERVER__WORKERS");
      continue;
    }
    writer.set(name, raw, *path, *parseValue(raw).get("v"));
  }
}

// The named variables are plain text: PHOTON_COMPONENT_ID=42 is the id "42".
void applyNamed(Writer& writer, const EnvList& env, Diagnostics& diags) {
  for (const auto& [name, raw] : env) {
    if (name.rfind(kGenericPrefix, 0) == 0 || name.rfind(kPrefix, 0) != 0) continue;
    if (name == kConfigVariable) continue;
    if (const NamedVariable* named = findNamed(name)) {
      writer.set(name, raw, named->path, toml::value<std::string>(raw));
      continue;
    }
    diags.warningFrom("environment", name,
                      "unknown variable; fiberlb reads PHOTON_CONFIG, PHOTON_MODE, "
                      "PHOTON_COMPONENT_ID, PHOTON_LOG_LEVEL, PHOTON_ADMIN_TOKEN and "
                      "PHOTON__SECTION__KEY");
  }
}

}  // namespace

void applyEnvOverrides(toml::table& root, const EnvList& env, Diagnostics& diags) {
  Writer writer(root, diags);
  applyGeneric(writer, env, diags);
  applyNamed(writer, env, diags);
}

std::vector<std::pair<std::string, std::string>> photonEnvironment() {
  std::vector<std::pair<std::string, std::string>> out;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const size_t eq = text.find('=');
    if (eq == std::string_view::npos || text.substr(0, kPrefix.size()) != kPrefix) continue;
    out.emplace_back(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
  }
  return out;
}

}  // namespace fiberlb::config
