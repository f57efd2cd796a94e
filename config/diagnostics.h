#pragma once
// Collects the errors and warnings of one load, and remembers which config keys were set
// by environment variables so that a problem with such a value points at the variable
// rather than at a file line that does not exist.

#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace fiberlb::config {

// The environment variable that set a config key, and its text as given.
struct EnvOrigin {
  std::string variable;
  std::string raw_value;
};

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  // `key` is the full config key path. When that key was set from the environment the
  // diagnostic names the variable instead (file "environment", no line).
  void error(SourcePos pos, const std::string& key, const std::string& message);
  void warning(SourcePos pos, const std::string& key, const std::string& message);

  // For problems that come from elsewhere than the file ("command line", "environment").
  void errorFrom(const std::string& origin, const std::string& key, const std::string& message);
  void warningFrom(const std::string& origin, const std::string& key, const std::string& message);

  void noteEnvOrigin(const std::string& key_path, EnvOrigin origin);
  const EnvOrigin* envOrigin(const std::string& key_path) const;

  bool hasErrors() const { return !errors_.empty(); }
  // Moves everything into `result`, ordered by position so the report reads top to bottom.
  void moveInto(LoadResult& result);

 private:
  Diagnostic make(SourcePos pos, const std::string& key, const std::string& message) const;

  std::string file_;
  std::map<std::string, EnvOrigin> env_origins_;
  std::vector<Diagnostic> errors_;
  std::vector<Diagnostic> warnings_;
};

}  // namespace fiberlb::config
