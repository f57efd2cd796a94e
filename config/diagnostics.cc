#include "config/diagnostics.h"

#include <algorithm>

namespace fiberlb::config {

std::string Diagnostic::str() const {
  std::string out = file.empty() ? std::string("<config>") : file;
  if (pos.line > 0) {
    out.append(":").append(std::to_string(pos.line));
    out.append(":").append(std::to_string(pos.column));
  }
  out.append(": ");
  if (!key.empty()) out.append(key).append(": ");
  return out.append(message);
}

Diagnostic Diagnostics::make(SourcePos pos, const std::string& key,
                             const std::string& message) const {
  if (const EnvOrigin* env = envOrigin(key)) {
    return Diagnostic{"environment", {}, env->variable, message + " (sets " + key + ")"};
  }
  return Diagnostic{file_, pos, key, message};
}

void Diagnostics::error(SourcePos pos, const std::string& key, const std::string& message) {
  errors_.push_back(make(pos, key, message));
}

void Diagnostics::warning(SourcePos pos, const std::string& key, const std::string& message) {
  warnings_.push_back(make(pos, key, message));
}

void Diagnostics::errorFrom(const std::string& origin, const std::string& key,
                            const std::string& message) {
  errors_.push_back(Diagnostic{origin, {}, key, message});
}

void Diagnostics::warningFrom(const std::string& origin, const std::string& key,
                              const std::string& message) {
  warnings_.push_back(Diagnostic{origin, {}, key, message});
}

void Diagnostics::noteEnvOrigin(const std::string& key_path, EnvOrigin origin) {
  env_origins_[key_path] = std::move(origin);
}

const EnvOrigin* Diagnostics::envOrigin(const std::string& key_path) const {
  auto it = env_origins_.find(key_path);
  return it == env_origins_.end() ? nullptr : &it->second;
}

namespace {

// Diagnostics without a line (environment, command line) come first; the rest by position.
void sortByPosition(std::vector<Diagnostic>& list) {
  std::stable_sort(list.begin(), list.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.pos.line, a.pos.column) < std::pair(b.pos.line, b.pos.column);
  });
}

}  // namespace

void Diagnostics::moveInto(LoadResult& result) {
  sortByPosition(errors_);
  sortByPosition(warnings_);
  result.errors = std::move(errors_);
  result.warnings = std::move(warnings_);
}

}  // namespace fiberlb::config
