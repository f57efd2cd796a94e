#pragma once
// One active health check of one backend (SPEC §3 `healthcheck`): a TCP connect, or an HTTP
// GET whose status must fall in `expected_status` (over TLS for a backend with `tls = true`),
// bounded by a timeout. Runs on a libuv loop without ever blocking it (TLS goes through
// memory BIOs); many probes run concurrently on the same loop.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "src/net/address.h"
#include "src/net/tls/client_context.h"
#include "src/net/tls/tls_channel.h"

namespace fiberlb::health {

enum class ProbeOutcome {
  Passed,
  Timeout,       // no verdict within the timeout (connect, TLS handshake, or the response)
  ConnectError,  // refused, unreachable, reset before a response, TLS handshake or record failure
  BadStatus,     // an HTTP status outside expected_status
  BadResponse,   // not an HTTP/1.x status line, or the connection closed before one
};
const char* toString(ProbeOutcome outcome);

struct ProbeResult {
  ProbeOutcome outcome = ProbeOutcome::Passed;
  bool passed() const { return outcome == ProbeOutcome::Passed; }
  int status = 0;  // HTTP status when one was read, else 0
  // Operator words: "connection refused", "status 503 not in 200-399", "TLS handshake failed:
  // certificate verify failed: self-signed certificate".
  std::string detail;
  uint64_t elapsed_ms = 0;
};

struct ProbeSpec {
  config::HealthCheckType type = config::HealthCheckType::Tcp;  // Http or Tcp (not None)
  net::SocketAddress address;
  std::string path = "/health";  // Http: request target
  std::string host;              // Http: Host header; "" = the backend's "ip:port"
  std::vector<config::StatusRange> expected_status{{200, 399}};
  uint64_t timeout_ms = 5000;  // the whole check: connect, TLS handshake and response
  // Http checks of a backend with `tls = true`: the TLS handshake comes first, with this
  // context (CA store, verify or not) and these peer names (SNI, the name the certificate
  // must show), exactly like the data path; then the GET goes over TLS. nullptr = plain HTTP.
  // Tcp checks ignore both: a tcp check stays a plain TCP connect even on a TLS backend
  // (HAProxy's `check` without `check-ssl` does the same), so it says whether the port
  // accepts connections, not whether the handshake succeeds.
  std::shared_ptr<net::tls::ClientContext> tls;
  net::tls::TlsChannel::Peer tls_peer;
};

// A reusable slot for one check at a time. The callback runs on the loop, exactly once per
// start(), unless cancel() (or destruction) comes first. The sockets and timers of a check in
// flight are owned by an internal object that frees itself after libuv's close callbacks,
// so destroying a Probe mid-check is safe.
//
// Loop thread only.
class Probe {
 public:
  using Done = std::function<void(const ProbeResult&)>;

  explicit Probe(uv_loop_t* loop) : loop_(loop) {}
  ~Probe() { cancel(); }
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  // Starts a check. Precondition: !running().
  void start(const ProbeSpec& spec, Done done);
  // Abandons the check in flight, if any: its callback will not run.
  void cancel();
  bool running() const { return attempt_ != nullptr; }

 private:
  friend class ProbeAttempt;
  uv_loop_t* loop_;
  class ProbeAttempt* attempt_ = nullptr;
};

// Parses the status code of an HTTP/1.x status line at the start of `data` ("HTTP/1.1 200
// OK\r\n"). Returns the status, 0 while more bytes are needed, -1 when it is not one.
int parseStatusLine(const char* data, size_t len);

// Whether `status` lies in one of `ranges`.
bool statusExpected(int status, const std::vector<config::StatusRange>& ranges);

}  // namespace fiberlb::health
