#pragma once
// A child process whose stdout and stderr are captured, line by line, by a reader thread.
// The destructor kills the child's whole process group (SIGKILL), reaps it and joins the
// reader, so a failing test never leaves a process behind. When the current test has
// failed, the captured output is printed to the test log.

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/deadline.h"

namespace fiberlb::testing {

class Process {
 public:
  struct Options {
    std::vector<std::string> args;  // argv[1..]
    // Extra NAME=VALUE entries on top of the inherited environment (from which every
    // PHOTON_* variable is removed so that the developer's shell cannot leak into a test).
    std::vector<std::string> env;
    std::string cwd;    // "" = inherit
    std::string label;  // prefix of the dumped output; default: the binary's file name
  };

  // Starts `binary`. Throws std::runtime_error when the process cannot be spawned.
  Process(const std::string& binary, Options options);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }

  // The first captured line (from line `from` on) containing `needle`, or nullopt when the
  // deadline passes or the output ends without one.
  std::optional<std::string> waitForLine(const std::string& needle, Deadline deadline,
                                         size_t from = 0) const;
  // Waits until at least `n` lines contain `needle`.
  bool waitForCount(const std::string& needle, size_t n, Deadline deadline) const;
  size_t countLines(const std::string& needle) const;

  // Waits until the output pipe is closed (the child and its group have exited).
  bool waitOutputEnd(Deadline deadline) const;

  std::vector<std::string> lines() const;
  size_t lineCount() const;
  std::string output() const;  // every line, newline-terminated

  // Sends `sig` to the child itself (not its process group). No-op once reaped.
  void signal(int sig);
  // Exit code (128 + signal number when killed by a signal), or nullopt at the deadline.
  std::optional<int> waitExit(Deadline deadline);
  bool running();

  // Resident memory of the child in KiB (VmRSS from /proc), or -1 when unavailable.
  int64_t rssKib() const;

  // Prints the captured output to stderr, prefixed with the label.
  void dump() const;

 private:
  void readLoop(int fd);
  // Reaps the child if it has exited (blocking when `block`); first kills whatever it left
  // in its process group, while the zombie still pins the group id.
  bool tryReap(bool block);

  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  bool killed_by_harness_ = false;
  std::string label_;
  int wake_fd_ = -1;  // eventfd that stops the reader
  std::thread reader_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

// Runs `binary` to completion and returns {exit code, combined output}; exit code -1 when
// it did not finish before the deadline (it is killed).
struct RunResult {
  int exit_code = -1;
  std::string output;
};
RunResult runToCompletion(const std::string& binary, Process::Options options, Deadline deadline);

}  // namespace fiberlb::testing
