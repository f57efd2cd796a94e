#include "config/config.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "config/config_files.h"
#include "config/diagnostics.h"
#include "config/enum_names.h"
#include "config/env_overrides.h"
#include "config/read_config.h"

namespace fiberlb::config {

namespace {

constexpr const char* kCommandLine = "command line";

std::string joinNames(const std::array<Choice<LogLevel>, 5>& choices) {
  std::string out;
  for (const auto& c : choices)
    out += (out.empty() ? "'" : ", '") + std::string(c.name) + "'";
  return out;
}

// Command-line flags are applied last: they win over the environment and the file.
void applyCommandLine(Config& config, const Overrides& overrides, Diagnostics& diags) {
  if (overrides.workers > kMaxWorkers || overrides.workers < -1) {
    diags.errorFrom(kCommandLine, "--workers",
                    "must be between 0 and " + std::to_string(kMaxWorkers) + ", got " +
                        std::to_string(overrides.workers));
  } else if (overrides.workers >= 0) {
    config.server.workers = overrides.workers;
  }
  if (!overrides.log_level.empty() &&
      !valueOf(kLogLevels, overrides.log_level, config.photon.logging.level)) {
    diags.errorFrom(kCommandLine, "--log-level",
                    "unknown log level '" + overrides.log_level +
                        "'; expected one of: " + joinNames(kLogLevels));
  }
  if (overrides.demo) config.demo.enabled = true;
}

std::optional<toml::table> parseDocument(const std::string& text, const std::string& source,
                                         Diagnostics& diags) {
  try {
    return toml::parse(std::string_view(text), std::string_view(source));
  } catch (const toml::parse_error& e) {
    diags.error(toSourcePos(e.source()), "", "invalid TOML: " + std::string(e.description()));
  }
  return std::nullopt;
}

LoadResult load(const std::string& text, const std::string& source, const Overrides& overrides) {
  Diagnostics diags(source);
  LoadResult result;
  try {
    if (std::optional<toml::table> doc = parseDocument(text, source, diags)) {
      applyEnvOverrides(*doc, overrides.env, diags);
      result.config = readConfig(*doc, diags);
      applyCommandLine(result.config, overrides, diags);
    }
  } catch (const std::exception& e) {
    // Nothing above should throw but allocation; the loader still must not.
    diags.error({}, "", std::string("internal error while loading: ") + e.what());
  }
  diags.moveInto(result);
  return result;
}

LoadResult readFailure(const std::string& path, const std::string& why) {
  LoadResult result;
  result.errors.push_back(Diagnostic{path, {}, "", "cannot read the config file: " + why});
  return result;
}

bool isFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

// A relative certificate path means relative to the config file, as in nginx, so that
// `fiberlb check` and the server find the same files wherever they are started from.
void resolveTlsPaths(Config& config, const std::filesystem::path& dir) {
  if (dir.empty()) return;
  auto resolve = [&dir](std::string& file) {
    if (!file.empty() && std::filesystem::path(file).is_relative())
      file = (dir / file).lexically_normal().string();
  };
  for (LoadBalancer& lb : config.loadbalancers) {
    resolve(lb.tls.cert_file);
    resolve(lb.tls.key_file);
    for (SniCert& sni : lb.tls.sni) {
      resolve(sni.cert_file);
      resolve(sni.key_file);
    }
    for (Backend& b : lb.backends)
      resolve(b.tls_ca_file);
  }
}

}  // namespace

bool readConfigFile(const std::string& path, std::string* text, std::string* error) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    *error = "it is a directory";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = std::strerror(errno);
    return false;
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) {
    *error = std::strerror(errno);
    return false;
  }
  *text = bytes.str();
  return true;
}

LoadResult loadFileText(const std::string& path, const std::string& text,
                        const Overrides& overrides) {
  LoadResult result = load(text, path, overrides);
  result.config.source_path = path;
  resolveTlsPaths(result.config, std::filesystem::path(path).parent_path());
  return result;
}

LoadResult loadFile(const std::string& path, const Overrides& overrides) {
  std::string text, error;
  if (!readConfigFile(path, &text, &error)) return readFailure(path, error);
  return loadFileText(path, text, overrides);
}

LoadResult loadString(const std::string& toml_text, const std::string& source_name,
                      const Overrides& overrides) {
  return load(toml_text, source_name, overrides);
}

std::string findConfigPath(const std::string& cli_path) {
  // An explicitly named file is returned even when missing, so the error names it.
  if (!cli_path.empty()) return cli_path;
  if (const char* env = std::getenv("PHOTON_CONFIG"); env != nullptr && *env != '\0') return env;
  for (const char* candidate : {"./fiberlb.toml", "/etc/fiberlb/config.toml"}) {
    if (isFile(candidate)) return candidate;
  }
  return "";
}

const char* toString(Protocol p) {
  return nameOf(kProtocols, p);
}
const char* toString(Method m) {
  return nameOf(kMethods, m);
}
const char* toString(LogLevel l) {
  return nameOf(kLogLevels, l);
}
const char* toString(LogFormat f) {
  return nameOf(kLogFormats, f);
}
const char* toString(Mode m) {
  return nameOf(kModes, m);
}
const char* toString(Persistence p) {
  return nameOf(kPersistences, p);
}
const char* toString(HealthCheckType t) {
  return nameOf(kHealthCheckTypes, t);
}
const char* toString(Failback f) {
  return nameOf(kFailbacks, f);
}

const char* toString(AdminState s) {
  return nameOf(kAdminStates, s);
}

bool parseAdminState(const std::string& text, AdminState* out) {
  return valueOf(kAdminStates, text, *out);
}

}  // namespace fiberlb::config
