#include "tests/support/fiberlb_process.h"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <regex>

namespace fiberlb::testing {

std::string fiberlbBinary() {
  const char* env = std::getenv("FIBERLB_BINARY");
  if (env != nullptr && *env != '\0') return env;
#ifdef FIBERLB_BINARY
  return FIBERLB_BINARY;
#else
  return "fiberlb";
#endif
}

std::string sourceDir() {
#ifdef FIBERLB_SOURCE_DIR
  return FIBERLB_SOURCE_DIR;
#else
  return ".";
#endif
}

FiberlbProcess::~FiberlbProcess() {
  if (!process_) return;
  // After an exit, let the reader drain the pipe: leak reports come last.
  if (!process_->running()) process_->waitOutputEnd(deadlineIn(2000));
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
    if (process_->waitForLine(marker, Clock::now())) {
      ADD_FAILURE() << "fiberlb's output contains a sanitizer report (" << marker << ")";
      break;
    }
  }
}

std::string FiberlbProcess::renderConfig(const FiberlbConfig& config) const {
  return config.render(dir_.file("state.json"));
}

::testing::AssertionResult FiberlbProcess::start(const FiberlbConfig& config,
                                                 const Options& options) {
  config_path_ = dir_.write("fiberlb.toml", renderConfig(config));
  return launch({"--config", config_path_}, options);
}

::testing::AssertionResult FiberlbProcess::startWithFile(const std::string& path,
                                                         const Options& options) {
  config_path_ = path;
  return launch({"--config", config_path_}, options);
}

::testing::AssertionResult FiberlbProcess::launch(const std::vector<std::string>& args,
                                                  const Options& options) {
  Process::Options popts;
  popts.args = args;
  if (!options.log_level.empty()) {
    popts.args.push_back("--log-level");
    popts.args.push_back(options.log_level);
  }
  popts.args.insert(popts.args.end(), options.extra_args.begin(), options.extra_args.end());
  popts.cwd = dir_.path();
  popts.label = "fiberlb";
  try {
    process_ = std::make_unique<Process>(fiberlbBinary(), popts);
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "cannot start " << fiberlbBinary() << ": " << e.what();
  }
  const Deadline deadline = deadlineIn(options.ready_timeout);
  if (!process_->waitForLine("fiberlb ready", deadline)) {
    auto code = process_->waitExit(deadlineIn(100));
    return ::testing::AssertionFailure()
           << "fiberlb did not log 'fiberlb ready' "
           << (code ? "and exited with " + std::to_string(*code) : std::string("in time"))
           << "; output:\n"
           << process_->output();
  }
  // "... listening lb=NAME addr=IP:PORT ..." (IP may be an IPv6 literal in brackets).
  ports_.clear();
  for (const auto& line : process_->lines()) {
    const size_t lb_at = line.find("listening lb=");
    if (lb_at == std::string::npos) continue;
    const size_t name_at = lb_at + 13;
    const std::string name = line.substr(name_at, line.find(' ', name_at) - name_at);
    const size_t addr_at = line.find(" addr=", name_at);
    if (addr_at == std::string::npos) continue;
    const size_t addr_end = std::min(line.find(' ', addr_at + 6), line.size());
    const size_t colon = line.rfind(':', addr_end);
    if (colon == std::string::npos || colon < addr_at) continue;
    ports_[name] = static_cast<uint16_t>(std::atoi(line.c_str() + colon + 1));
  }
  return ::testing::AssertionSuccess();
}

uint16_t FiberlbProcess::port(const std::string& lb) const {
  auto it = ports_.find(lb);
  return it == ports_.end() ? 0 : it->second;
}

::testing::AssertionResult FiberlbProcess::reload(const FiberlbConfig& config) {
  return reloadRaw(renderConfig(config), true);
}

::testing::AssertionResult FiberlbProcess::reloadRaw(const std::string& toml, bool expect_success) {
  if (!process_) return ::testing::AssertionFailure() << "fiberlb is not running";
  // "config reloaded" is not a substring of "config reload failed", and vice versa.
  const std::string awaited = expect_success ? "config reloaded" : "config reload failed";
  const size_t before = process_->countLines(awaited);
  dir_.write("fiberlb.toml", toml);
  process_->signal(SIGHUP);
  if (process_->waitForCount(awaited, before + 1, deadlineIn(10000))) {
    // A reload may log several lines with the awaited text; let them all arrive so that the
    // next reload counts from a settled state.
    for (size_t seen = process_->countLines(awaited);
         process_->waitForCount(awaited, seen + 1, Clock::now() + milliseconds(100));) {
      seen = process_->countLines(awaited);
    }
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "no '" << awaited << "' line after SIGHUP; output:\n"
                                       << process_->output();
}

std::optional<int> FiberlbProcess::stop(int sig, Deadline deadline) {
  if (!process_) return std::nullopt;
  process_->signal(sig);
  return process_->waitExit(deadline);
}

uint16_t adminPort(FiberlbProcess& lb) {
  static const std::regex kAddr(R"(admin API listening addr=(\S+):(\d+))");
  auto line = lb.process().waitForLine("admin API listening addr=", deadlineIn(5000));
  std::smatch m;
  if (!line || !std::regex_search(*line, m, kAddr)) return 0;
  return static_cast<uint16_t>(std::stoi(m[2].str()));
}

}  // namespace fiberlb::testing
