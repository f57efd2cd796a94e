#pragma once
// A real HTTP/1.1 origin server on 127.0.0.1:<ephemeral>, one thread per connection, whose
// behaviour tests change at run time: status, delay, body size and framing, echo of the
// received request, reset on accept, accept-and-hang, garbage instead of HTTP. It records
// what it received so that tests can check what fiberlb forwarded.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/deadline.h"
#include "tests/support/http_client.h"
#include "tests/support/request_reader.h"

namespace fiberlb::testing {

enum class Framing { ContentLength, Chunked, UntilClose };
void PrintTo(Framing framing, std::ostream* os);

enum class BackendMode {
  Normal,
  ResetOnAccept,  // accept, then close with SO_LINGER 0 (RST) before reading anything
  Hang,           // accept, then neither read nor answer until the backend stops
  Garbage,        // read the request, answer bytes that are not HTTP, close
  UpgradeEcho,    // answer 101 Switching Protocols, then echo raw bytes until EOF
  // Read the whole request (counted in requestCount()), wait `delay`, then close with
  // SO_LINGER 0 (RST) without answering: a reset before any response byte.
  ResetAfterRequest,
};

struct Behaviour {
  int status = 200;
  milliseconds delay{0};  // after the whole request arrived, before answering
  size_t body_size = 0;   // > 0: body = patternBody(body_size); 0: body = "<name>\n"
  Framing framing = Framing::ContentLength;
  bool echo = false;  // body = the received head followed by the received (de-chunked) body
  BackendMode mode = BackendMode::Normal;
  std::string extra_headers;  // raw "Name: value\r\n" lines added to every response
  // Close the connection right after a keep-alive response without announcing it, as
  // servers with a short idle timeout do: a pooled upstream connection goes stale.
  bool silent_close = false;
};

class TestBackend {
 public:
  explicit TestBackend(std::string name, Behaviour behaviour = {});
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  uint16_t port() const { return port_; }
  const std::string& name() const { return name_; }

  void setBehaviour(const Behaviour& behaviour);
  Behaviour behaviour() const;

  int requestCount() const { return requests_.load(); }
  int responsesSent() const { return responses_.load(); }  // written completely
  int connectionCount() const { return connections_.load(); }
  int activeRequests() const { return active_.load(); }  // received, not yet answered
  int openConnections() const;
  std::optional<RecordedRequest> lastRequest() const;
  std::vector<std::string> targets() const;  // request targets in arrival order
  void resetCounters();

  // Closes the listener and every connection, wakes delayed/hanging handlers, joins all
  // threads. Idempotent; the destructor calls it.
  void stop();

 private:
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };
  void acceptLoop();
  void serve(int fd);
  // Waits up to `d` or until stop(); false when stopping.
  bool pause(milliseconds d);
  bool track(int fd);
  void untrackAndClose(int fd);

  std::string name_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::thread acceptor_;

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  Behaviour behaviour_;
  std::set<int> conn_fds_;
  std::vector<Worker> workers_;
  std::optional<RecordedRequest> last_;
  std::vector<std::string> targets_;

  std::atomic<int> requests_{0};
  std::atomic<int> responses_{0};
  std::atomic<int> connections_{0};
  std::atomic<int> active_{0};
};

// Deterministic, position-dependent bytes, so that a shifted, truncated or duplicated
// stretch is detected.
std::string patternBody(size_t n);
// Index of the first byte of `body` that differs from patternBody(expected_size), or -1 when
// they are equal (a size difference counts as a difference at the shorter length).
int64_t firstPatternMismatch(const std::string& body, size_t expected_size);

// A loopback port on which nothing listens (bound to an ephemeral port, then closed).
uint16_t refusingPort();

// A loopback port whose connects stay pending: a listener with backlog 0 that never accepts,
// its accept queue filled by connections of its own, so Linux drops every further SYN and a
// connect() waits in SYN_SENT until the connecting side gives up. Closed on destruction.
class PendingConnectPort {
 public:
  PendingConnectPort();
  ~PendingConnectPort();
  PendingConnectPort(const PendingConnectPort&) = delete;
  PendingConnectPort& operator=(const PendingConnectPort&) = delete;

  uint16_t port() const { return port_; }
  // Connects to this port from other sockets that are now waiting in SYN_SENT (read from
  // /proc/net/tcp): how a test sees that fiberlb has started connecting.
  int connectsWaiting() const;

 private:
  // SYN_SENT sockets towards port_, this object's own fillers included.
  int synSent() const;

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::vector<int> fillers_;
  int own_waiting_ = 0;
};

}  // namespace fiberlb::testing
