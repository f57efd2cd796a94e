#include "src/check_command.h"

#include <cstdio>
#include <vector>

#include "config/config_diff.h"

namespace fiberlb {
namespace {

constexpr int kExitInvalidConfig = 1;

std::string joined(const std::vector<std::string>& names) {
  if (names.empty()) return "(none)";
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

void printChanges(const config::ConfigChanges& changes, const std::string& running_path) {
  if (changes.empty()) {
    printf("a reload from %s: no changes\n", running_path.c_str());
    return;
  }
  printf("a reload from %s would change:\n", running_path.c_str());
  printf("  added:    %s\n", joined(changes.added).c_str());
  printf("  removed:  %s\n", joined(changes.removed).c_str());
  printf("  modified: %s\n", joined(changes.modified).c_str());
}

// The settings ControlLoop::reload() warns about: a reload keeps the running value.
void printRestartNotes(const config::Server& running, const config::Server& next) {
  if (next.workers != running.workers)
    printf("note: workers %d -> %d takes effect only at the next restart, not on reload\n",
           running.workers, next.workers);
  if (next.admin_api_addr != running.admin_api_addr)
    printf("note: admin_api_addr %s -> %s takes effect only at the next restart, not on reload\n",
           running.admin_api_addr.c_str(), next.admin_api_addr.c_str());
}

}  // namespace

int printReloadPreview(const config::Config& next, const std::string& running_path,
                       const config::Overrides& overrides) {
  const config::LoadResult running = config::loadFile(running_path, overrides);
  if (!running.ok()) {
    for (const config::Diagnostic& e : running.errors)
      fprintf(stderr, "error: %s\n", e.str().c_str());
    fprintf(stderr, "%s: the running configuration (--against) is invalid; nothing to compare\n",
            running_path.c_str());
    return kExitInvalidConfig;
  }
  printChanges(config::diff(running.config, next), running_path);
  printRestartNotes(running.config.server, next.server);
  return 0;
}

}  // namespace fiberlb
