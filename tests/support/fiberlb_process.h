#pragma once
// The real fiberlb binary under test: writes its config into a private temporary directory,
// starts it, waits for "fiberlb ready" and learns each listener's port from the
// "listening lb=NAME addr=IP:PORT" lines. Reload rewrites the file and sends SIGHUP. The
// destructor kills whatever is still running.

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace fiberlb::testing {

// Path of the binary under test (FIBERLB_BINARY, overridable with $FIBERLB_BINARY).
std::string fiberlbBinary();
// The repository root (FIBERLB_SOURCE_DIR).
std::string sourceDir();

class FiberlbProcess {
 public:
  struct Options {
    std::vector<std::string> extra_args;
    std::string log_level = "info";
    milliseconds ready_timeout{20000};
  };

  FiberlbProcess() = default;
  // Kills the process if it still runs. Fails the current test if a sanitizer reported an
  // error in fiberlb's output.
  ~FiberlbProcess();
  FiberlbProcess(const FiberlbProcess&) = delete;
  FiberlbProcess& operator=(const FiberlbProcess&) = delete;

  // Writes `config` and starts the binary; success once it logged "fiberlb ready".
  ::testing::AssertionResult start(const FiberlbConfig& config, const Options& options);
  ::testing::AssertionResult start(const FiberlbConfig& config) { return start(config, {}); }
  // Starts on an existing config file (e.g. examples/demo.toml).
  ::testing::AssertionResult startWithFile(const std::string& path, const Options& options);

  // The port of LB `lb` as logged; 0 when unknown.
  uint16_t port(const std::string& lb = "web") const;

  // Rewrites the config file, sends SIGHUP and waits for "config reloaded".
  ::testing::AssertionResult reload(const FiberlbConfig& config);
  // Same with raw file content; `expect_success` chooses the awaited log line.
  ::testing::AssertionResult reloadRaw(const std::string& toml, bool expect_success);

  // Sends `sig` and waits for the exit code (nullopt at the deadline).
  std::optional<int> stop(int sig, Deadline deadline);

  Process& process() { return *process_; }
  const TempDir& dir() const { return dir_; }
  const std::string& configPath() const { return config_path_; }
  std::string renderConfig(const FiberlbConfig& config) const;

 private:
  ::testing::AssertionResult launch(const std::vector<std::string>& args, const Options& options);

  TempDir dir_;
  std::string config_path_;
  std::unique_ptr<Process> process_;
  std::map<std::string, uint16_t> ports_;
};

// The admin API port fiberlb logged ("admin API listening addr=IP:PORT"), waiting up to 5 s
// for the line; 0 when it never came.
uint16_t adminPort(FiberlbProcess& lb);

}  // namespace fiberlb::testing
