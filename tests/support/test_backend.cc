#include "tests/support/test_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fiberlb::testing {
namespace {

// 101 Switching Protocols, then every byte received (including any already buffered after
// the request head) is sent back until the peer closes.
void upgradeEcho(int fd, RequestReader& in, const RecordedRequest& req) {
  std::string out = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " +
                    req.header("Upgrade").value_or("websocket") + "\r\n\r\n";
  if (!sendAll(fd, out)) return;
  std::string pending = in.takeAll();
  for (;;) {
    if (!pending.empty() && !sendAll(fd, pending)) return;
    auto more = in.some();
    if (!more) return;
    pending = std::move(*more);
  }
}

std::string reasonFor(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 204:
      return "No Content";
    case 404:
      return "Not Found";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

// A listening socket on 127.0.0.1:<ephemeral> (its port in `port`); throws naming `who`.
int listenOnLoopback(int backlog, uint16_t& port, const char* who) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string(who) + ": cannot listen on 127.0.0.1:0");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

}  // namespace

void PrintTo(Framing framing, std::ostream* os) {
  switch (framing) {
    case Framing::ContentLength:
      *os << "ContentLength";
      break;
    case Framing::Chunked:
      *os << "Chunked";
      break;
    case Framing::UntilClose:
      *os << "UntilClose";
      break;
  }
}

TestBackend::TestBackend(std::string name, Behaviour behaviour)
    : name_(std::move(name)), behaviour_(std::move(behaviour)) {
  listen_fd_ = listenOnLoopback(512, port_, "TestBackend");
  acceptor_ = std::thread([this] { acceptLoop(); });
}

TestBackend::~TestBackend() {
  stop();
}

void TestBackend::setBehaviour(const Behaviour& behaviour) {
  std::lock_guard<std::mutex> lock(mu_);
  behaviour_ = behaviour;
}

Behaviour TestBackend::behaviour() const {
  std::lock_guard<std::mutex> lock(mu_);
  return behaviour_;
}

int TestBackend::openConnections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(conn_fds_.size());
}

std::optional<RecordedRequest> TestBackend::lastRequest() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_;
}

std::vector<std::string> TestBackend::targets() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_;
}

void TestBackend::resetCounters() {
  std::lock_guard<std::mutex> lock(mu_);
  requests_ = 0;
  responses_ = 0;
  connections_ = 0;
  targets_.clear();
  last_.reset();
}

void TestBackend::stop() {
  std::vector<Worker> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    for (int fd : conn_fds_)
      ::shutdown(fd, SHUT_RDWR);
    stop_cv_.notify_all();
  }
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::lock_guard<std::mutex> lock(mu_);
    workers.swap(workers_);
  }
  for (auto& w : workers)
    w.thread.join();
  ::close(listen_fd_);
}

bool TestBackend::pause(milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  if (d.count() == 0) return !stopping_;
  return !stop_cv_.wait_for(lock, d, [this] { return stopping_; });
}

bool TestBackend::track(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) return false;
  conn_fds_.insert(fd);
  return true;
}

void TestBackend::untrackAndClose(int fd) {
  std::lock_guard<std::mutex> lock(mu_);
  conn_fds_.erase(fd);
  ::close(fd);
}

void TestBackend::acceptLoop() {
  for (;;) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ++connections_;
    if (!track(fd)) {
      ::close(fd);
      return;
    }
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {  // reap finished handlers
      if (it->done->load()) {
        it->thread.join();
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    workers_.push_back({std::thread([this, fd, done] {
                          serve(fd);
                          untrackAndClose(fd);
                          done->store(true);
                        }),
                        done});
  }
}

void TestBackend::serve(int fd) {
  const Behaviour first = behaviour();
  if (first.mode == BackendMode::ResetOnAccept) {
    const linger lg{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    return;  // the caller closes: RST
  }
  if (first.mode == BackendMode::Hang) {
    std::unique_lock<std::mutex> lock(mu_);
    stop_cv_.wait(lock, [this] { return stopping_; });
    return;
  }
  RequestReader in(fd);
  for (;;) {
    auto head = in.head();
    if (!head) return;
    RecordedRequest req;
    if (!parseRequestHead(*head, req) || !readRequestBody(in, req)) return;
    const Behaviour b = behaviour();
    {
      std::lock_guard<std::mutex> lock(mu_);
      last_ = req;
      targets_.push_back(req.target);
      ++requests_;
    }
    ++active_;
    struct ActiveGuard {
      std::atomic<int>& a;
      ~ActiveGuard() { --a; }
    } guard{active_};
    if (!pause(b.delay)) return;
    if (b.mode == BackendMode::ResetAfterRequest) {
      const linger lg{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      return;  // the caller closes: RST
    }
    if (b.mode == BackendMode::Garbage) {
      sendAll(fd, "this is not HTTP at all\r\n\r\n");
      return;
    }
    if (b.mode == BackendMode::UpgradeEcho) {
      upgradeEcho(fd, in, req);
      return;
    }
    const auto connection = req.header("Connection").value_or("");
    bool keep_alive = req.version == "HTTP/1.1" ? !iequals(connection, "close")
                                                : iequals(connection, "keep-alive");
    if (b.framing == Framing::UntilClose) keep_alive = false;

    std::string body;
    if (b.echo) {
      body = req.head + req.body;
    } else if (b.body_size > 0) {
      body = patternBody(b.body_size);
    } else {
      body = name_ + "\n";
    }
    const bool no_body = req.method == "HEAD" || b.status == 204 || b.status == 304;
    std::string out = "HTTP/1.1 " + std::to_string(b.status) + " " + reasonFor(b.status) +
                      "\r\nX-Backend: " + name_ + "\r\nContent-Type: text/plain\r\n";
    out += b.extra_headers;
    if (!keep_alive) out += "Connection: close\r\n";
    if (b.status == 204 || b.status == 304) {
      // No framing headers: these responses never have a body (RFC 9110 §8.6).
    } else if (b.framing == Framing::ContentLength) {
      out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    } else if (b.framing == Framing::Chunked) {
      out += "Transfer-Encoding: chunked\r\n";
    }
    out += "\r\n";
    if (no_body) {
      if (!sendAll(fd, out)) return;
    } else if (b.framing == Framing::Chunked) {
      // Uneven chunk sizes exercise the proxy's chunk handling.
      size_t pos = 0;
      for (size_t i = 0; pos < body.size(); ++i) {
        const size_t n = std::min(body.size() - pos, size_t{1000} + (i * 7919) % 30000);
        char size_line[32];
        std::snprintf(size_line, sizeof size_line, "%zx\r\n", n);
        out += size_line;
        out.append(body, pos, n);
        out += "\r\n";
        pos += n;
        if (out.size() > 256 * 1024) {
          if (!sendAll(fd, out)) return;
          out.clear();
        }
      }
      out += "0\r\n\r\n";
      if (!sendAll(fd, out)) return;
    } else {
      out += body;
      if (!sendAll(fd, out)) return;
    }
    ++responses_;
    if (!keep_alive || b.silent_close) {
      ::shutdown(fd, SHUT_WR);
      return;
    }
  }
}

std::string patternBody(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    s[i] = static_cast<char>('A' + (i * 31 + i / 4093) % 58);
  }
  return s;
}

int64_t firstPatternMismatch(const std::string& body, size_t expected_size) {
  const std::string expected = patternBody(expected_size);
  const size_t n = std::min(body.size(), expected.size());
  for (size_t i = 0; i < n; ++i) {
    if (body[i] != expected[i]) return static_cast<int64_t>(i);
  }
  return body.size() == expected.size() ? -1 : static_cast<int64_t>(n);
}

uint16_t refusingPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

PendingConnectPort::PendingConnectPort() {
  listen_fd_ = listenOnLoopback(0, port_, "PendingConnectPort");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);
  // Connect until one connect no longer completes: from then on the queue is full. (With
  // backlog 0 the first connection fills it; a few more tries cover other kernels.)
  for (int i = 0; i < 8; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    fillers_.push_back(fd);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) continue;
    if (errno != EINPROGRESS) break;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, 300) == 0) {  // still pending: SYNs are being dropped
      own_waiting_ = synSent();
      return;
    }
  }
  for (int fd : fillers_)
    ::close(fd);
  ::close(listen_fd_);
  throw std::runtime_error("PendingConnectPort: connects to a full backlog still complete");
}

int PendingConnectPort::synSent() const {
  // Lines of /proc/net/tcp: "sl local_address rem_address st ...", addresses as HEX:PORT.
  std::ifstream in("/proc/net/tcp");
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, ":%04X", static_cast<unsigned>(port_));
  int n = 0;
  std::string line;
  std::getline(in, line);  // the header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    n += remote.ends_with(suffix) && state == "02" ? 1 : 0;  // 02 = TCP_SYN_SENT
  }
  return n;
}

int PendingConnectPort::connectsWaiting() const {
  return synSent() - own_waiting_;
}

PendingConnectPort::~PendingConnectPort() {
  for (int fd : fillers_)
    ::close(fd);
  ::close(listen_fd_);
}

}  // namespace fiberlb::testing
