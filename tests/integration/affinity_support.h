#pragma once
// Shared by the session affinity tests (affinity_*_test.cc): clients from a chosen loopback
// source address (127.0.0.2, 127.0.0.3, ...: all of 127/8 is local on Linux, and the client
// socket is bound before connecting), the backend that answered (X-Backend of a TestBackend,
// or the hello line of a TcpBackends listener) and the LB's config.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/http_client.h"

namespace fiberlb::testing {

// ---- Clients from a chosen source address -----------------------------------------------

// "127.0.0.<n>".
inline std::string loopback(int n) {
  return "127.0.0." + std::to_string(n);
}

// A client connection to 127.0.0.1:<port> from `source` (the kernel picks the port):
// non-blocking, every call bounded by a deadline. Reads HTTP responses framed by
// Content-Length or by the close (what fiberlb sends for TestBackend's answers and its own
// errors), and "\n"-terminated lines (the TCP backends' hello).
class Conn {
 public:
  explicit Conn(std::string source = "127.0.0.1") : source_(std::move(source)) {}
  ~Conn() { close(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool connect(uint16_t port, Deadline deadline) {
    close();
    ++connects_;
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return fail("socket");
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // The source port is chosen at connect() time, per destination: many short connections
    // from one source address do not exhaust the bind()-time port space.
    ::setsockopt(fd_, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    if (::inet_pton(AF_INET, source_.c_str(), &local.sin_addr) != 1)
      return fail("bad source address " + source_);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0)
      return fail("bind " + source_);
    sockaddr_in remote{};
    remote.sin_family = AF_INET;
    remote.sin_port = htons(port);
    remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&remote), sizeof remote) == 0) return true;
    if (errno != EINPROGRESS) return fail("connect");
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remainingMs(deadline)) != 1) return fail("connect: deadline");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      errno = err;
      return fail("connect");
    }
    return true;
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    buf_.clear();
    eof_ = false;
  }

  bool usable() const { return fd_ >= 0 && !eof_; }
  int connects() const { return connects_; }
  const std::string& error() const { return error_; }

  bool sendAll(std::string_view bytes, Deadline deadline) {
    return sendWithin(fd_, bytes, deadline, error_);
  }

  // One response; `error` is set when none arrived completely.
  Response readResponse(Deadline deadline) {
    Response r;
    size_t head_end;
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(deadline)) {
        r.error = "no complete response head (" + error_ + "), got: " + buf_;
        return r;
      }
    }
    const std::string head = buf_.substr(0, head_end);
    buf_.erase(0, head_end + 4);
    size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    const size_t sp = status_line.find(' ');
    if (sp == std::string::npos) {
      r.error = "bad status line: " + status_line;
      return r;
    }
    r.version = status_line.substr(0, sp);
    r.status = std::atoi(status_line.c_str() + sp + 1);
    if (status_line.size() > sp + 5) r.reason = status_line.substr(sp + 5);
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line = head.substr(start, line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ')
        ++v;
      r.headers.push_back(Header{line.substr(0, colon), line.substr(v)});
    }
    if (auto te = r.header("Transfer-Encoding")) {
      r.error = "unexpected Transfer-Encoding: " + *te;
      return r;
    }
    if (auto cl = r.header("Content-Length")) {
      const size_t n = std::strtoull(cl->c_str(), nullptr, 10);
      while (buf_.size() < n) {
        if (!fill(deadline)) {
          r.error = "body shorter than Content-Length (" + error_ + ")";
          return r;
        }
      }
      r.body = buf_.substr(0, n);
      buf_.erase(0, n);
      return r;
    }
    while (fill(deadline)) {
    }
    if (!eof_) {
      r.error = "body not closed (" + error_ + ")";
      return r;
    }
    r.until_close = true;
    r.body = std::move(buf_);
    buf_.clear();
    return r;
  }

  // Sends `raw` and reads the response, (re)connecting first when needed: a keep-alive
  // client.
  Response exchange(uint16_t port, std::string_view raw, Deadline deadline) {
    Response r;
    if (!usable() && !connect(port, deadline)) {
      r.error = error_;
      return r;
    }
    if (!sendAll(raw, deadline)) {
      r.error = error_;
      return r;
    }
    return readResponse(deadline);
  }

  // One "\n"-terminated line without the newline; nullopt on EOF or at the deadline.
  std::optional<std::string> readLine(Deadline deadline) {
    size_t nl;
    while ((nl = buf_.find('\n')) == std::string::npos) {
      if (!fill(deadline)) return std::nullopt;
    }
    std::string line = buf_.substr(0, nl);
    buf_.erase(0, nl + 1);
    return line;
  }

 private:
  bool fail(const std::string& what) {
    error_ = what + ": " + std::strerror(errno);
    return false;
  }

  // Appends what arrives; false on EOF, error or deadline.
  bool fill(Deadline deadline) {
    if (fd_ < 0 || eof_) return false;
    char chunk[16384];
    while (true) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n > 0) {
        buf_.append(chunk, static_cast<size_t>(n));
        return true;
      }
      if (n == 0) {
        eof_ = true;
        error_ = "closed by the peer";
        return false;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        eof_ = true;
        return fail("recv");
      }
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, remainingMs(deadline)) != 1) {
        error_ = "deadline";
        return false;
      }
    }
  }

  std::string source_;
  int fd_ = -1;
  std::string buf_;
  bool eof_ = false;
  int connects_ = 0;
  std::string error_;
};

// One request on a new connection from `source`, closed afterwards.
inline Response fetchFrom(const std::string& source, uint16_t port, const std::string& raw) {
  Conn conn(source);
  return conn.exchange(port, raw, deadlineIn(5000));
}

// The backend that answered (X-Backend), or a description of what came instead.
inline std::string servedBy(const Response& r) {
  if (!r.ok()) return "<error: " + r.error + ">";
  if (r.status != 200) return "<status " + std::to_string(r.status) + ": " + r.body + ">";
  return r.header("X-Backend").value_or("<no X-Backend>");
}

inline std::string describe(const Response& r) {
  std::string out = r.ok() ? r.version + " " + std::to_string(r.status) : "error: " + r.error;
  for (const Header& h : r.headers)
    out += "\n  " + h.name + ": " + h.value;
  return out;
}

// ---- Configuration ----------------------------------------------------------------------

// One HTTP LB "web" over `backends`; `extra` goes to the LB's table. Two workers by default,
// so that affinity is checked across worker threads (connections spread over both).
inline FiberlbConfig affinityLb(const std::vector<BackendConfig>& backends,
                                const std::string& method, const std::string& extra,
                                int workers = 2) {
  FiberlbConfig config = singleLb(backends, method);
  config.workers = workers;
  config.loadbalancers[0].extra = extra;
  return config;
}

// ---- TCP backends -----------------------------------------------------------------------

// The backend a new TCP connection from `source` reached: the hello line of a "hello"
// listener of TcpBackends (tests/support/tcp_backends.h).
inline std::string tcpBackendFrom(const std::string& source, uint16_t port) {
  Conn conn(source);
  if (!conn.connect(port, deadlineIn(5000))) return "<connect failed: " + conn.error() + ">";
  return conn.readLine(deadlineIn(5000)).value_or("<no hello line: " + conn.error() + ">");
}

}  // namespace fiberlb::testing
