#pragma once
// Plain TCP backends for L4 tests: one Python process serving several named listeners on
// 127.0.0.1, each in one mode:
//   echo   echoes until EOF, then half-closes;
//   hello  first sends "<name>\n" (so a client knows which backend it reached), then echoes;
//   bye    sends "bye" and closes at once.
// The process prints "PORT <name> <port>" per listener, then "READY", and per connection
// "ACCEPT <name> conn=<i>" and "EOF <name> conn=<i> bytes=<n>" (bytes echoed).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace fiberlb::testing {

class TcpBackends {
 public:
  // One listener per spec "<name>:<mode>" ("b1:hello", ...); waits until all listen.
  explicit TcpBackends(const std::vector<std::string>& specs);
  TcpBackends(const TcpBackends&) = delete;
  TcpBackends& operator=(const TcpBackends&) = delete;

  // False when the process never reported its listeners.
  bool ok() const { return !ports_.empty(); }
  // The port of listener `name`; 0 when unknown.
  uint16_t port(const std::string& name) const;
  Process& process() { return *process_; }
  std::string output() const { return process_->output(); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::map<std::string, uint16_t> ports_;
};

}  // namespace fiberlb::testing
