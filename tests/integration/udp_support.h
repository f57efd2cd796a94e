#pragma once
// Shared by the UDP load-balancing tests (udp_*_test.cc): test-side UDP sockets, backends
// served by a thread of this process (UdpBackends: every datagram is answered with
// "<backend name> <datagram>" to its sender, so a client knows which backend it reached), a
// client connected to the LB, the LB's config and its counters in /metrics and
// /api/loadbalancers.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support/admin_json.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/http_client.h"

namespace fiberlb::testing {

// Large socket buffers for the test's own sockets (the kernel caps them at rmem_max), so that
// only fiberlb's sockets could ever overflow under load.
inline constexpr int kSocketBuffer = 4 << 20;

// `ip` (an IPv4 or IPv6 literal) and `port` as a socket address; returns its length.
inline socklen_t socketAddress(const char* ip, uint16_t port, sockaddr_storage* ss) {
  *ss = {};
  if (std::strchr(ip, ':') != nullptr) {
    auto* a = reinterpret_cast<sockaddr_in6*>(ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    ::inet_pton(AF_INET6, ip, &a->sin6_addr);
    return sizeof *a;
  }
  auto* a = reinterpret_cast<sockaddr_in*>(ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(port);
  ::inet_pton(AF_INET, ip, &a->sin_addr);
  return sizeof *a;
}

// A UDP socket bound to `ip`:`port` (0 = ephemeral); -1 on failure. `*bound` gets the port.
inline int udpSocket(const char* ip, uint16_t port, uint16_t* bound) {
  sockaddr_storage ss;
  socklen_t len = socketAddress(ip, port, &ss);
  const int fd = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBuffer, sizeof kSocketBuffer);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBuffer, sizeof kSocketBuffer);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    ::close(fd);
    return -1;
  }
  len = sizeof ss;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len);
  const uint16_t p = ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&ss)->sin_port;
  if (bound != nullptr) *bound = ntohs(p);
  return fd;
}

// A UDP port on loopback with nothing listening: datagrams to it are refused (ICMP).
inline uint16_t refusingUdpPort() {
  uint16_t port = 0;
  const int fd = udpSocket("127.0.0.1", 0, &port);
  ::close(fd);
  return port;
}

// Named UDP backends answered by one thread: "<name> <datagram>" back to the sender.
class UdpBackends {
 public:
  explicit UdpBackends(const std::vector<std::string>& names, const char* ip = "127.0.0.1") {
    for (const std::string& name : names) {
      auto b = std::make_unique<Backend>();
      b->name = name;
      b->fd = udpSocket(ip, 0, &b->port);
      ok_ = ok_ && b->fd >= 0;
      backends_.push_back(std::move(b));
    }
    stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    thread_ = std::thread([this] { run(); });
  }
  ~UdpBackends() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
    for (auto& b : backends_)
      ::close(b->fd);
    ::close(stop_fd_);
  }
  UdpBackends(const UdpBackends&) = delete;
  UdpBackends& operator=(const UdpBackends&) = delete;

  bool ok() const { return ok_; }
  uint16_t port(const std::string& name) const { return find(name).port; }
  // Datagrams answered so far.
  uint64_t answered(const std::string& name) const { return find(name).answered.load(); }

 private:
  struct Backend {
    std::string name;
    int fd = -1;
    uint16_t port = 0;
    std::atomic<uint64_t> answered{0};
  };

  const Backend& find(const std::string& name) const {
    for (const auto& b : backends_)
      if (b->name == name) return *b;
    static const Backend kNone;
    return kNone;
  }

  void run() {
    std::vector<pollfd> fds;
    for (const auto& b : backends_)
      fds.push_back({b->fd, POLLIN, 0});
    fds.push_back({stop_fd_, POLLIN, 0});
    char in[65536];
    std::string out;
    while (true) {
      if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) return;
      if (fds.back().revents != 0) return;
      for (size_t i = 0; i < backends_.size(); ++i) {
        if (fds[i].revents == 0) continue;
        Backend& b = *backends_[i];
        while (true) {
          sockaddr_storage from{};
          socklen_t len = sizeof from;
          const ssize_t n =
              ::recvfrom(b.fd, in, sizeof in, 0, reinterpret_cast<sockaddr*>(&from), &len);
          if (n < 0) break;  // EAGAIN (or an error): back to poll
          out.assign(b.name).append(" ").append(in, static_cast<size_t>(n));
          ::sendto(b.fd, out.data(), out.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
          b.answered.fetch_add(1);
        }
      }
    }
  }

  bool ok_ = true;
  std::vector<std::unique_ptr<Backend>> backends_;
  int stop_fd_ = -1;
  std::thread thread_;
};

// A client socket connected to the LB: it receives only what comes from the LB's address.
class UdpClient {
 public:
  explicit UdpClient(uint16_t lb_port, const char* ip = "127.0.0.1") {
    uint16_t ignored = 0;
    fd_ = udpSocket(ip, 0, &ignored);
    sockaddr_storage ss;
    const socklen_t len = socketAddress(ip, lb_port, &ss);
    if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~UdpClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  UdpClient(const UdpClient&) = delete;
  UdpClient& operator=(const UdpClient&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool send(std::string_view payload) {
    return ::send(fd_, payload.data(), payload.size(), 0) == static_cast<ssize_t>(payload.size());
  }

  // The next datagram, or nullopt at the deadline.
  std::optional<std::string> receive(Deadline deadline) {
    char buf[65536];
    while (true) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n >= 0) return std::string(buf, static_cast<size_t>(n));
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNREFUSED)
        return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, remainingMs(deadline)) == 0) return std::nullopt;
    }
  }

  // Sends `payload` and waits up to `per_try_ms` for its answer (a reply ending in it), up to
  // `tries` times. Returns the name of the backend that answered; `*used` = sends made.
  std::optional<std::string> ask(const std::string& payload, int per_try_ms = 2000, int tries = 1,
                                 int* used = nullptr) {
    for (int i = 1; i <= tries; ++i) {
      if (used != nullptr) *used = i;
      if (!send(payload)) return std::nullopt;
      const Deadline deadline = deadlineIn(per_try_ms);
      while (std::optional<std::string> reply = receive(deadline)) {
        const size_t space = reply->find(' ');
        if (space != std::string::npos && reply->substr(space + 1) == payload)
          return reply->substr(0, space);
      }
    }
    return std::nullopt;
  }

 private:
  int fd_ = -1;
};

// One udp LB "udp" over `backends`.
inline FiberlbConfig udpConfig(const std::vector<BackendConfig>& backends, int workers = 1,
                               const std::string& extra = "") {
  FiberlbConfig config = singleLb(backends);
  config.workers = workers;
  LbConfig& lb = config.loadbalancers[0];
  lb.name = "udp";
  lb.protocol = "udp";
  lb.extra = extra;
  return config;
}

// The value of the sample `name{labels}` in /metrics; -1 when absent.
inline double metric(uint16_t admin, const std::string& name,
                     const std::string& labels = "lb=\"udp\"") {
  Response r = fetch(admin, getRequest("/metrics"), deadlineIn(5000));
  const std::string sample = "\n" + name + "{" + labels + "} ";
  const size_t at = r.body.find(sample);
  return at == std::string::npos ? -1 : std::stod(r.body.substr(at + sample.size()));
}

inline double dropped(uint16_t admin, const std::string& reason) {
  return metric(admin, "fiberlb_udp_dropped_datagrams_total",
                "lb=\"udp\",reason=\"" + reason + "\"");
}

// Backend `name` of LB "udp" in /api/loadbalancers; null when absent.
inline nlohmann::json backendJson(uint16_t admin, const std::string& name) {
  const nlohmann::json lbs = adminJson(admin, "/api/loadbalancers");
  if (!lbs.is_array()) return nullptr;
  for (const auto& lb : lbs) {
    if (lb.value("name", "") != "udp") continue;
    for (const auto& b : lb["backends"])
      if (b.value("name", "") == name) return b;
  }
  return nullptr;
}

inline int64_t backendField(uint16_t admin, const std::string& name, const std::string& field) {
  const nlohmann::json b = backendJson(admin, name);
  return b.is_object() ? b.value(field, int64_t{-1}) : -1;
}

}  // namespace fiberlb::testing
