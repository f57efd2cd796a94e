// fiberlb: command line (SPEC §2), configuration loading, then the control loop.

#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "config/config.h"
#include "src/check_command.h"
#include "src/control/control_loop.h"
#include "src/net/tls/client_context.h"
#include "src/net/tls/tls_context.h"
#include "src/util/log.h"
#include "src/version.h"

namespace {

using fiberlb::config::Diagnostic;
using fiberlb::config::LoadResult;

constexpr int kExitInvalidConfig = 1;

void printDiagnostics(const LoadResult& result) {
  for (const Diagnostic& w : result.warnings)
    fprintf(stderr, "warning: %s\n", w.str().c_str());
  for (const Diagnostic& e : result.errors)
    fprintf(stderr, "error: %s\n", e.str().c_str());
}

// Loads every TLS listener's certificates and keys, and the CA files of TLS backends, the way
// the server will, so that a missing file or a key that does not match its certificate fails
// the check. Each failing load balancer is reported at its [tls] table (or [[tls.sni]]
// entry), each backend at its table. Returns the count.
size_t checkCertificates(const fiberlb::config::Config& config) {
  auto keys = std::make_shared<fiberlb::net::tls::TicketKeys>();
  size_t errors = 0;
  for (const fiberlb::config::LoadBalancer& lb : config.loadbalancers) {
    if (!lb.tls_termination) continue;
    std::string error;
    fiberlb::config::SourcePos pos = lb.tls.pos;
    if (fiberlb::net::tls::ServerContext::create(lb.tls, keys, &error, &pos, lb.protocol)) continue;
    fprintf(stderr, "error: %s:%d:%d: lb %s: %s\n", config.source_path.c_str(), pos.line,
            pos.column, lb.name.c_str(), error.c_str());
    ++errors;
  }
  for (const fiberlb::config::LoadBalancer& lb : config.loadbalancers) {
    for (const fiberlb::config::Backend& b : lb.backends) {
      if (!b.tls) continue;
      std::string error;
      if (fiberlb::net::tls::ClientContext::create(b.tls_ca_file, b.tls_verify, &error)) continue;
      fprintf(stderr, "error: %s:%d:%d: lb %s backend %s: %s\n", config.source_path.c_str(),
              b.pos.line, b.pos.column, lb.name.c_str(), b.name.c_str(), error.c_str());
      ++errors;
    }
  }
  return errors;
}

// `fiberlb check PATH [--against RUNNING_PATH]`: validate like `nginx -t`, then show what a
// reload from RUNNING_PATH would change.
int runCheck(const std::string& path, const std::string& against,
             const fiberlb::config::Overrides& overrides) {
  LoadResult result = fiberlb::config::loadFile(path, overrides);
  printDiagnostics(result);
  const size_t errors = result.ok() ? checkCertificates(result.config) : result.errors.size();
  if (errors > 0) {
    fprintf(stderr, "%s: configuration is invalid (%zu error%s)\n", path.c_str(), errors,
            errors == 1 ? "" : "s");
    return kExitInvalidConfig;
  }
  fprintf(stderr, "%s: configuration is valid (%zu load balancer%s)\n", path.c_str(),
          result.config.loadbalancers.size(), result.config.loadbalancers.size() == 1 ? "" : "s");
  if (against.empty()) return 0;
  return fiberlb::printReloadPreview(result.config, against, overrides);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fiberlb: event-loop L4/L7 reverse proxy and load balancer"};
  app.set_version_flag("--version", std::string("fiberlb ") + fiberlb::kVersion);
  std::string config_path;
  int workers = -1;
  std::string log_level;
  bool demo = false;
  app.add_option("-c,--config", config_path, "configuration file (TOML)");
  app.add_option("--workers", workers, "worker threads (0 = one per CPU core)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--log-level", log_level, "trace | debug | info | warn | error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  app.add_flag("--demo", demo, "start embedded demo backends for the configured backends");
  std::string check_path;
  CLI::App* check = app.add_subcommand("check", "validate a configuration file and exit (0/1)");
  check->add_option("path", check_path, "configuration file")->required();
  std::string against_path;
  check
      ->add_option("--against", against_path,
                   "the running proxy's config file: also print what a reload would change")
      ->type_name("RUNNING_PATH");
  CLI11_PARSE(app, argc, argv);

  fiberlb::config::Overrides overrides;
  overrides.env = fiberlb::config::photonEnvironment();
  overrides.workers = workers;
  overrides.log_level = log_level;
  overrides.demo = demo;

  if (check->parsed()) return runCheck(check_path, against_path, overrides);

  std::string path = fiberlb::config::findConfigPath(config_path);
  if (path.empty()) {
    fprintf(stderr,
            "error: no configuration file: pass --config PATH, set PHOTON_CONFIG, or create "
            "./fiberlb.toml or /etc/fiberlb/config.toml\n");
    return kExitInvalidConfig;
  }
  LoadResult loaded = fiberlb::config::loadFile(path, overrides);
  printDiagnostics(loaded);
  if (!loaded.ok()) {
    fprintf(stderr, "%s: configuration is invalid; not starting\n", path.c_str());
    return kExitInvalidConfig;
  }
  fiberlb::log::setLevel(loaded.config.photon.logging.level);
  fiberlb::log::setJson(loaded.config.photon.logging.format == fiberlb::config::LogFormat::Json);
  signal(SIGPIPE, SIG_IGN);  // a peer closing mid-write is an ordinary error, not a crash

  FLB_LOG(Info, "fiberlb %s starting with %s", fiberlb::kVersion, path.c_str());
  auto config = std::make_shared<const fiberlb::config::Config>(std::move(loaded.config));
  fiberlb::control::ControlLoop control(path, overrides);
  return control.run(config);
}
