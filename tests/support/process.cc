#include "tests/support/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

extern char** environ;

namespace fiberlb::testing {
namespace {

std::vector<std::string> childEnvironment(const std::vector<std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PHOTON_", 7) == 0) continue;
    env.emplace_back(*e);
  }
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

}  // namespace

Process::Process(const std::string& binary, Options options) {
  label_ =
      options.label.empty() ? std::filesystem::path(binary).filename().string() : options.label;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so the destructor can kill anything the child started too; default
  // signal dispositions and an empty mask, whatever the test runner had.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> argv_strings{binary};
  argv_strings.insert(argv_strings.end(), options.args.begin(), options.args.end());
  std::vector<std::string> env_strings = childEnvironment(options.env);
  auto argv = pointers(argv_strings);
  auto envp = pointers(env_strings);

  const int rc = ::posix_spawn(&pid_, binary.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    pid_ = -1;
    throw std::runtime_error("posix_spawn " + binary + ": " + std::strerror(rc));
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
  reader_ = std::thread([this, fd = fds[0]] { readLoop(fd); });
}

Process::~Process() {
  if (pid_ > 0 && !tryReap(false)) {
    killed_by_harness_ = true;
    ::kill(-pid_, SIGKILL);
    tryReap(true);
  }
  // The reader stops at EOF; a grandchild that escaped the group could keep the pipe open,
  // so wake it explicitly too.
  const uint64_t one = 1;
  if (wake_fd_ >= 0) {
    [[maybe_unused]] const ssize_t written = ::write(wake_fd_, &one, sizeof one);
  }
  if (reader_.joinable()) reader_.join();
  if (wake_fd_ >= 0) ::close(wake_fd_);
  if (::testing::Test::HasFailure()) dump();
}

void Process::readLoop(int fd) {
  std::string partial;
  char buf[16384];
  for (;;) {
    pollfd pfds[2] = {{fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (::poll(pfds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    // Drain the pipe before honouring a wake-up so that no output is lost.
    if ((pfds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0 && pfds[1].revents != 0) break;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buf, static_cast<size_t>(n));
    std::vector<std::string> complete;
    size_t start = 0;
    for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
      complete.push_back(partial.substr(start, nl - start));
    }
    partial.erase(0, start);
    if (!complete.empty()) {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& l : complete)
        lines_.push_back(std::move(l));
      cv_.notify_all();
    }
  }
  ::close(fd);
  std::lock_guard<std::mutex> lock(mu_);
  if (!partial.empty()) lines_.push_back(partial);
  eof_ = true;
  cv_.notify_all();
}

std::optional<std::string> Process::waitForLine(const std::string& needle, Deadline deadline,
                                                size_t from) const {
  std::unique_lock<std::mutex> lock(mu_);
  for (size_t i = from;;) {
    for (; i < lines_.size(); ++i) {
      if (lines_[i].find(needle) != std::string::npos) return lines_[i];
    }
    if (eof_ || Clock::now() >= deadline) return std::nullopt;
    cv_.wait_until(lock, deadline);
  }
}

bool Process::waitForCount(const std::string& needle, size_t n, Deadline deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  auto count = [&] {
    size_t c = 0;
    for (const auto& l : lines_)
      c += l.find(needle) != std::string::npos ? 1 : 0;
    return c;
  };
  return cv_.wait_until(lock, deadline, [&] { return count() >= n || eof_; }) && count() >= n;
}

bool Process::waitOutputEnd(Deadline deadline) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return eof_; });
}

size_t Process::countLines(const std::string& needle) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t c = 0;
  for (const auto& l : lines_)
    c += l.find(needle) != std::string::npos ? 1 : 0;
  return c;
}

std::vector<std::string> Process::lines() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_;
}

size_t Process::lineCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lines_.size();
}

std::string Process::output() const {
  std::string out;
  for (const auto& l : lines())
    out += l + "\n";
  return out;
}

void Process::signal(int sig) {
  if (pid_ > 0 && !exit_code_) ::kill(pid_, sig);
}

bool Process::tryReap(bool block) {
  if (exit_code_) return true;
  siginfo_t info{};
  const int flags = WEXITED | WNOWAIT | (block ? 0 : WNOHANG);
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, flags) != 0 || info.si_pid != pid_) {
    return false;
  }
  ::kill(-pid_, SIGKILL);  // stragglers of the group; the zombie keeps the id from reuse
  int status = 0;
  if (::waitpid(pid_, &status, 0) != pid_) return false;
  exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return true;
}

std::optional<int> Process::waitExit(Deadline deadline) {
  pollUntil([this] { return tryReap(false); }, deadline, milliseconds(2));
  return exit_code_;
}

bool Process::running() {
  return !tryReap(false);
}

int64_t Process::rssKib() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

void Process::dump() const {
  const auto captured = lines();
  std::string status = "still running";
  if (killed_by_harness_) {
    status = "killed by the test harness at the end of the test";
  } else if (exit_code_) {
    status = "exited with " + std::to_string(*exit_code_) +
             (*exit_code_ > 128 ? " (signal " + std::to_string(*exit_code_ - 128) + ")" : "");
  }
  std::fprintf(stderr, "---- output of %s (pid %d, %zu lines, %s) ----\n", label_.c_str(), pid_,
               captured.size(), status.c_str());
  for (const auto& l : captured)
    std::fprintf(stderr, "[%s] %s\n", label_.c_str(), l.c_str());
  std::fprintf(stderr, "---- end of %s ----\n", label_.c_str());
}

RunResult runToCompletion(const std::string& binary, Process::Options options, Deadline deadline) {
  Process p(binary, std::move(options));
  RunResult result;
  result.exit_code = p.waitExit(deadline).value_or(-1);
  // The reader may still be draining the pipe after the exit.
  p.waitOutputEnd(deadline);
  result.output = p.output();
  return result;
}

}  // namespace fiberlb::testing
