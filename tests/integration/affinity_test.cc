// Session affinity through the real binary (SPEC §3 `method = "hash"`, `hash_key`,
// `session_persistence`; §4 "hash = consistent hashing with xxHash (adding/removing one of N
// backends moves ~1/N of keys)" and "Session persistence keeps a client on its backend while
// that backend stays eligible"; §6 for TCP).
//
// Clients come from different loopback source addresses (127.0.0.2, 127.0.0.3, ...: all of
// 127/8 is local on Linux) by binding the client socket before connecting. HTTP backends are
// TestBackends (X-Backend names the one that answered); TCP backends are one Python process
// whose listeners first send their name, then echo.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/support/admin_json.h"
#include "tests/support/deadline.h"
#include "tests/support/fiberlb_config.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

// ---- Clients from a chosen source address -----------------------------------------------

// "127.0.0.<n>".
std::string loopback(int n) {
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
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n > 0) {
        bytes.remove_prefix(static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pollfd p{fd_, POLLOUT, 0};
        if (::poll(&p, 1, remainingMs(deadline)) != 1) return fail("send: deadline");
      } else {
        return fail("send");
      }
    }
    return true;
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
Response fetchFrom(const std::string& source, uint16_t port, const std::string& raw) {
  Conn conn(source);
  return conn.exchange(port, raw, deadlineIn(5000));
}

// The backend that answered (X-Backend), or a description of what came instead.
std::string servedBy(const Response& r) {
  if (!r.ok()) return "<error: " + r.error + ">";
  if (r.status != 200) return "<status " + std::to_string(r.status) + ": " + r.body + ">";
  return r.header("X-Backend").value_or("<no X-Backend>");
}

std::string describe(const Response& r) {
  std::string out = r.ok() ? r.version + " " + std::to_string(r.status) : "error: " + r.error;
  for (const Header& h : r.headers)
    out += "\n  " + h.name + ": " + h.value;
  return out;
}

// ---- Persistence cookies ----------------------------------------------------------------

struct Cookie {
  std::string name;
  std::string value;
  std::string pair() const { return name + "=" + value; }
  std::string header() const { return "Cookie: " + pair() + "\r\n"; }
};

// The Set-Cookie values of `r` whose cookie name starts with "fiberlb_".
std::vector<std::string> persistenceSetCookies(const Response& r) {
  std::vector<std::string> out;
  for (const Header& h : r.headers) {
    if (iequals(h.name, "Set-Cookie") && h.value.starts_with("fiberlb_")) out.push_back(h.value);
  }
  return out;
}

// The cookie that `r` sets when it carries exactly one persistence Set-Cookie of the form
// "fiberlb_<8 hex>=<16 hex>; Path=/; HttpOnly; SameSite=Lax"; nullopt otherwise.
std::optional<Cookie> newCookie(const Response& r) {
  static const std::regex kForm(
      R"(^(fiberlb_[0-9a-f]{8})=([0-9a-f]{16}); Path=/; HttpOnly; SameSite=Lax$)");
  const std::vector<std::string> set = persistenceSetCookies(r);
  std::smatch m;
  if (set.size() != 1 || !std::regex_match(set[0], m, kForm)) return std::nullopt;
  return Cookie{m[1].str(), m[2].str()};
}

// ---- Configuration ----------------------------------------------------------------------

const std::string kCookiePersistence = "session_persistence = \"cookie\"\n";
const std::string kSourceIpPersistence = "session_persistence = \"source_ip\"\n";

std::string hashKey(const std::string& key) {
  return "hash_key = \"" + key + "\"\n";
}

// One HTTP LB "web" over `backends`; `extra` goes to the LB's table. Two workers by default,
// so that affinity is checked across worker threads (connections spread over both).
FiberlbConfig affinityLb(const std::vector<BackendConfig>& backends, const std::string& method,
                         const std::string& extra, int workers = 2) {
  FiberlbConfig config = singleLb(backends, method);
  config.workers = workers;
  config.loadbalancers[0].extra = extra;
  return config;
}

// Sends requests without a cookie on new connections until every backend in `names` has
// answered once; the persistence cookie each one handed out, by backend. Fails the test when
// a response lacks a well-formed cookie or one backend gets two different values.
std::map<std::string, Cookie> learnCookies(uint16_t port, const std::set<std::string>& names) {
  std::map<std::string, Cookie> out;
  for (int i = 0; i < 10 * static_cast<int>(names.size()) && out.size() < names.size(); ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/learn"));
    const std::string backend = servedBy(r);
    std::optional<Cookie> cookie = newCookie(r);
    EXPECT_TRUE(cookie.has_value()) << describe(r);
    if (!cookie) continue;
    auto [it, inserted] = out.emplace(backend, *cookie);
    EXPECT_EQ(it->second.pair(), cookie->pair()) << "two cookies for backend " << backend;
  }
  EXPECT_EQ(out.size(), names.size()) << "not every backend answered a balanced request";
  return out;
}

// ---- Admin API --------------------------------------------------------------------------

// The health of backend `name` of LB `lb` in GET /api/geo/nodes.
std::string health(uint16_t admin, const std::string& lb, const std::string& name) {
  const json nodes = adminJson(admin, "/api/geo/nodes");
  if (!nodes.is_array()) return "<no nodes>";
  for (const json& n : nodes) {
    if (n.value("node_id", "") == name && n.value("loadbalancer", "") == lb)
      return n.value("health", "<none>");
  }
  return "<no node>";
}

// Writes `config` to fiberlb's file and reloads it with POST /api/config/reload.
Response postReload(FiberlbProcess& lb, uint16_t admin, const FiberlbConfig& config) {
  lb.dir().write("fiberlb.toml", lb.renderConfig(config));
  return fetch(admin,
               "POST /api/config/reload HTTP/1.1\r\nHost: admin.test\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n",
               deadlineIn(10000));
}

// Sends batches of `probe` requests (new connections from 127.0.0.1) until one batch is
// answered 200 by backends none of which is `excluded`: the workers use the snapshot the
// reload or health change produced. Batches of 8 reach both workers all but surely.
bool waitUntilAvoided(uint16_t port, const std::string& excluded, const std::string& raw) {
  return pollUntil(
      [&] {
        for (int i = 0; i < 8; ++i) {
          const std::string b = servedBy(fetchFrom("127.0.0.1", port, raw));
          if (b == excluded || b.starts_with("<")) return false;
        }
        return true;
      },
      deadlineIn(5000), milliseconds(20));
}

// ---- TCP backends -----------------------------------------------------------------------

constexpr const char* kPython = "/usr/bin/python3";

const char* const kHelloScript = R"PY(
import socket, sys, threading
def serve(c, name):
    try:
        c.sendall((name + "\n").encode())
        while True:
            d = c.recv(65536)
            if not d:
                break
            c.sendall(d)
    except OSError:
        pass
    finally:
        c.close()
def accept_loop(srv, name):
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c, name), daemon=True).start()
threads = []
for name in sys.argv[1:]:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    print("PORT %s %d" % (name, srv.getsockname()[1]), flush=True)
    t = threading.Thread(target=accept_loop, args=(srv, name), daemon=True)
    t.start()
    threads.append(t)
print("READY", flush=True)
for t in threads:
    t.join()
)PY";

// One Python process serving a listener per name; each connection first gets "<name>\n".
class HelloBackends {
 public:
  explicit HelloBackends(const std::vector<std::string>& names) {
    std::vector<std::string> args{dir_.write("hello_backends.py", kHelloScript)};
    args.insert(args.end(), names.begin(), names.end());
    process_ = std::make_unique<Process>(kPython, Process::Options{.args = args, .label = "tcp"});
    if (!process_->waitForLine("READY", deadlineIn(10000))) return;
    for (const std::string& line : process_->lines()) {
      if (!line.starts_with("PORT ")) continue;
      const size_t space = line.find(' ', 5);
      ports_[line.substr(5, space - 5)] = static_cast<uint16_t>(std::stoi(line.substr(space + 1)));
    }
  }

  bool ok() const { return !ports_.empty(); }
  uint16_t port(const std::string& name) const {
    auto it = ports_.find(name);
    return it == ports_.end() ? 0 : it->second;
  }
  std::string output() const { return process_->output(); }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::map<std::string, uint16_t> ports_;
};

// The backend a new TCP connection from `source` reached (its hello line).
std::string tcpBackendFrom(const std::string& source, uint16_t port) {
  Conn conn(source);
  if (!conn.connect(port, deadlineIn(5000))) return "<connect failed: " + conn.error() + ">";
  return conn.readLine(deadlineIn(5000)).value_or("<no hello line: " + conn.error() + ">");
}

// =========================================================================================
// session_persistence = "cookie"
// =========================================================================================

TEST(Persistence, CookiePinsAClientToTheBackendThatServedIt) {
  TestBackend a("a"), b("b"), c("c");
  std::map<std::string, TestBackend*> backends{{"a", &a}, {"b", &b}, {"c", &c}};
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "roundrobin",
                                  kCookiePersistence)));
  const uint16_t port = lb.port();

  // A client without the cookie is balanced and learns which backend served it.
  Response first = fetchFrom("127.0.0.1", port, getRequest("/"));
  const std::string sticky = servedBy(first);
  ASSERT_TRUE(backends.count(sticky)) << describe(first);
  ASSERT_EQ(first.headerCount("Set-Cookie"), 1u) << describe(first);
  std::optional<Cookie> cookie = newCookie(first);
  ASSERT_TRUE(cookie) << "not a persistence cookie: " << describe(first);

  // Balanced clients reach every backend; one cookie name, one distinct value per backend.
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  std::set<std::string> values;
  for (const auto& [backend, k] : cookies) {
    EXPECT_EQ(k.name, cookie->name);
    values.insert(k.value);
  }
  EXPECT_EQ(values.size(), 3u) << "backends share a cookie value";
  EXPECT_EQ(cookies[sticky].value, cookie->value);

  // 10 new connections presenting the cookie: all on `sticky`, no further Set-Cookie.
  for (int i = 0; i < 10; ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/new-conn", cookie->header()));
    EXPECT_EQ(servedBy(r), sticky) << "request " << i;
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
  }
  // 10 on one keep-alive connection.
  Conn keep;
  for (int i = 0; i < 10; ++i) {
    Response r = keep.exchange(port, getRequest("/keep-alive", cookie->header()), deadlineIn(5000));
    EXPECT_EQ(servedBy(r), sticky) << "request " << i;
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
  }
  EXPECT_EQ(keep.connects(), 1);

  // The cookie among others, in a second Cookie header, or quoted (RFC 6265 cookie-value).
  for (const std::string& header : {"Cookie: theme=dark; " + cookie->pair() + "; lang=en\r\n",
                                    "Cookie: theme=dark;" + cookie->pair() + "\r\n",
                                    "Cookie: theme=dark\r\nCookie: " + cookie->pair() + "\r\n",
                                    "Cookie: " + cookie->name + "=\"" + cookie->value + "\"\r\n"}) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", header));
    EXPECT_EQ(servedBy(r), sticky) << header;
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << header << describe(r);
  }
  // Each backend's cookie sends its client there.
  for (const auto& [backend, k] : cookies) {
    for (int i = 0; i < 3; ++i) {
      Response r = fetchFrom("127.0.0.1", port, getRequest("/", k.header()));
      EXPECT_EQ(servedBy(r), backend);
      EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
    }
  }

  // A backend's own Set-Cookie passes through next to ours.
  for (auto& [name, backend] : backends)
    backend->setBehaviour(Behaviour{.extra_headers = "Set-Cookie: app=1; Path=/\r\n"});
  Response both = fetchFrom("127.0.0.1", port, getRequest("/"));
  EXPECT_EQ(both.headerCount("Set-Cookie"), 2u) << describe(both);
  EXPECT_TRUE(newCookie(both)) << describe(both);
  Response own = fetchFrom("127.0.0.1", port, getRequest("/", cookie->header()));
  EXPECT_EQ(servedBy(own), sticky);
  EXPECT_EQ(own.headerCount("Set-Cookie"), 1u) << describe(own);
  EXPECT_EQ(own.header("Set-Cookie").value_or(""), "app=1; Path=/") << describe(own);
}

TEST(Persistence, CookieHoldsWhileOtherBackendsStopOrAreRemoved) {
  TestBackend a("a"), b("b"), c("c"), d("d");
  FiberlbProcess lb;
  const FiberlbConfig config = affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}},
                                          "roundrobin", kCookiePersistence);
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port();
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  const Cookie cookie = cookies["a"];
  auto expectAllOnA = [&](const std::string& phase) {
    for (int i = 0; i < 20; ++i) {
      Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()));
      EXPECT_EQ(servedBy(r), "a") << phase << ", request " << i;
      EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << phase << ": " << describe(r);
    }
  };

  // b stops (connections refused; no health check notices): a's clients do not care.
  b.stop();
  expectAllOnA("b stopped");

  // A reload removes b and adds d: the cookie (a hash of LB and backend names) still holds.
  ASSERT_TRUE(lb.reload(affinityLb({{"a", a.port()}, {"c", c.port()}, {"d", d.port()}},
                                   "roundrobin", kCookiePersistence)));
  ASSERT_TRUE(pollUntil(
      [&] {
        fetchFrom("127.0.0.1", port, getRequest("/probe"));
        return d.requestCount() > 0;
      },
      deadlineIn(5000), milliseconds(10)))
      << "d never received traffic after the reload";
  expectAllOnA("b removed, d added");

  // And another reload leaves only a and d.
  ASSERT_TRUE(
      lb.reload(affinityLb({{"a", a.port()}, {"d", d.port()}}, "roundrobin", kCookiePersistence)));
  ASSERT_TRUE(waitUntilAvoided(port, "c", getRequest("/probe")));
  expectAllOnA("c removed");
}

TEST(Persistence, CookieMovesWhenItsBackendIsMarkedDownAndTheNewOneSticks) {
  TestBackend a("a"), b("b"), c("c");
  std::map<std::string, TestBackend*> backends{{"a", &a}, {"b", &b}, {"c", &c}};
  FiberlbConfig config = affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}},
                                    "roundrobin", kCookiePersistence);
  config.loadbalancers[0].healthcheck =
      "type = \"http\"\ninterval_sec = 0.1\ntimeout_sec = 1\npath = \"/hc\"\n"
      "healthy_threshold = 2\nunhealthy_threshold = 2\n";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port();
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  Response first = fetchFrom("127.0.0.1", port, getRequest("/"));
  const std::string sticky = servedBy(first);
  ASSERT_TRUE(backends.count(sticky)) << describe(first);
  std::optional<Cookie> old_cookie = newCookie(first);
  ASSERT_TRUE(old_cookie) << describe(first);
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(servedBy(fetchFrom("127.0.0.1", port, getRequest("/", old_cookie->header()))),
              sticky);

  // The sticky backend dies; its health checks fail and take it out.
  backends[sticky]->stop();
  ASSERT_TRUE(
      pollUntil([&] { return health(admin, "web", sticky) == "unhealthy"; }, deadlineIn(5000)))
      << sticky << " never became unhealthy: " << health(admin, "web", sticky);

  // The old cookie's requests are balanced over the others and told their new backend.
  // (Until the worker has the new snapshot, the refused connect is retried elsewhere: the
  // same outcome.)
  Response moved = fetchFrom("127.0.0.1", port, getRequest("/", old_cookie->header()));
  const std::string next = servedBy(moved);
  ASSERT_TRUE(backends.count(next) && next != sticky) << describe(moved);
  std::optional<Cookie> new_cookie = newCookie(moved);
  ASSERT_TRUE(new_cookie) << "no new persistence cookie: " << describe(moved);
  EXPECT_EQ(new_cookie->name, old_cookie->name);
  EXPECT_NE(new_cookie->value, old_cookie->value);
  EXPECT_EQ(new_cookie->value, cookies[next].value) << "the new cookie does not name " << next;
  std::set<std::string> old_cookie_went;
  for (int i = 0; i < 6; ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", old_cookie->header()));
    const std::string backend = servedBy(r);
    old_cookie_went.insert(backend);
    EXPECT_NE(backend, sticky);
    std::optional<Cookie> k = newCookie(r);
    EXPECT_TRUE(k && k->value == cookies[backend].value) << describe(r);
  }
  EXPECT_EQ(old_cookie_went.size(), 2u) << "the old cookie's requests are not balanced: "
                                        << ::testing::PrintToString(old_cookie_went);

  // The new cookie sticks, over new connections and keep-alive alike.
  Conn keep;
  for (int i = 0; i < 20; ++i) {
    Response r = i % 2 == 0
                     ? fetchFrom("127.0.0.1", port, getRequest("/", new_cookie->header()))
                     : keep.exchange(port, getRequest("/", new_cookie->header()), deadlineIn(5000));
    EXPECT_EQ(servedBy(r), next) << "request " << i;
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
  }
}

// No health check: the stopped sticky backend is still "eligible" when the request arrives,
// so the refused connect is retried on another backend, and the response names that one.
TEST(Persistence, CookieOfARefusingBackendIsRetriedElsewhereWithANewCookie) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "roundrobin",
                                  kCookiePersistence)));
  const uint16_t port = lb.port();
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);

  a.stop();
  for (int i = 0; i < 8; ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookies["a"].header()));
    const std::string backend = servedBy(r);
    EXPECT_TRUE(backend == "b" || backend == "c") << describe(r);
    std::optional<Cookie> k = newCookie(r);
    EXPECT_TRUE(k && k->value == cookies[backend].value) << describe(r);
  }
}

TEST(Persistence, CookieIsSetAsideWhileItsBackendHasWeightZeroOrAnOpenCircuit) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbConfig config = affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}},
                                    "roundrobin", kCookiePersistence);
  config.loadbalancers[0].circuit_breaker = {{"failure_threshold", 2},
                                             {"recovery_timeout_sec", 60}};
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port();
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  const Cookie cookie = cookies["a"];
  auto expectRebalanced = [&](const std::string& phase) {
    std::set<std::string> went;
    for (int i = 0; i < 10; ++i) {
      Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()));
      const std::string backend = servedBy(r);
      went.insert(backend);
      EXPECT_TRUE(backend == "b" || backend == "c") << phase << ": " << describe(r);
      std::optional<Cookie> k = newCookie(r);
      EXPECT_TRUE(k && k->value == cookies[backend].value) << phase << ": " << describe(r);
    }
    EXPECT_EQ(went, (std::set<std::string>{"b", "c"})) << phase;
  };

  // weight = 0: a takes no new traffic, cookie or not.
  FiberlbConfig zero = config;
  zero.loadbalancers[0].backends[0].weight = 0;
  ASSERT_TRUE(lb.reload(zero));
  ASSERT_TRUE(waitUntilAvoided(port, "a", getRequest("/", cookie.header())));
  expectRebalanced("a at weight 0");

  // Eligible again: the old cookie leads to a again (its id is stable).
  ASSERT_TRUE(lb.reload(config));
  ASSERT_TRUE(pollUntil(
      [&] {
        return servedBy(fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()))) == "a";
      },
      deadlineIn(5000), milliseconds(20)));
  for (int i = 0; i < 10; ++i) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()));
    EXPECT_EQ(servedBy(r), "a");
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
  }

  // a answers 503: after failure_threshold of them its circuit opens, and the cookie's
  // requests go elsewhere (retries.on has no "5xx", so the 503s reach the client).
  a.setBehaviour(Behaviour{.status = 503});
  int failures = 0;
  ASSERT_TRUE(pollUntil(
      [&] {
        Response r = fetchFrom("127.0.0.1", port, getRequest("/", cookie.header()));
        if (r.ok() && r.status == 503) ++failures;
        return servedBy(r) == "b" || servedBy(r) == "c";
      },
      deadlineIn(5000), milliseconds(0)))
      << "the cookie's requests never left a";
  EXPECT_EQ(failures, 2) << "503s seen before the circuit opened (failure_threshold = 2)";
  expectRebalanced("a's circuit open");
}

TEST(Persistence, EachLoadBalancerHasItsOwnCookie) {
  TestBackend a("a"), b("b");
  FiberlbConfig config =
      affinityLb({{"a", a.port()}, {"b", b.port()}}, "roundrobin", kCookiePersistence);
  LbConfig api = config.loadbalancers[0];
  api.name = "api";
  config.loadbalancers.push_back(api);
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t web_port = lb.port("web"), api_port = lb.port("api");
  ASSERT_NE(api_port, 0);

  std::map<std::string, Cookie> web = learnCookies(web_port, {"a", "b"});
  std::map<std::string, Cookie> api_cookies = learnCookies(api_port, {"a", "b"});
  ASSERT_EQ(web.size(), 2u);
  ASSERT_EQ(api_cookies.size(), 2u);
  EXPECT_NE(web["a"].name, api_cookies["a"].name) << "two LBs share the cookie name";

  // web's cookie means nothing to api: balanced there, with api's own cookie.
  std::set<std::string> went;
  for (int i = 0; i < 4; ++i) {
    Response r = fetchFrom("127.0.0.1", api_port, getRequest("/", web["a"].header()));
    went.insert(servedBy(r));
    std::optional<Cookie> k = newCookie(r);
    EXPECT_TRUE(k && k->name == api_cookies["a"].name) << describe(r);
  }
  EXPECT_EQ(went, (std::set<std::string>{"a", "b"}));

  // A browser holding both (cookies ignore ports): each LB follows its own.
  const std::string both = "Cookie: " + web["a"].pair() + "; " + api_cookies["b"].pair() + "\r\n";
  for (int i = 0; i < 6; ++i) {
    Response w = fetchFrom("127.0.0.1", web_port, getRequest("/", both));
    EXPECT_EQ(servedBy(w), "a");
    EXPECT_EQ(w.headerCount("Set-Cookie"), 0u) << describe(w);
    Response p = fetchFrom("127.0.0.1", api_port, getRequest("/", both));
    EXPECT_EQ(servedBy(p), "b");
    EXPECT_EQ(p.headerCount("Set-Cookie"), 0u) << describe(p);
  }
}

TEST(Persistence, GarbageCookieValueIsIgnored) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  // One worker: round-robin is exact, so "balanced" is checkable.
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "roundrobin",
                                  kCookiePersistence, /*workers=*/1)));
  const uint16_t port = lb.port();
  std::map<std::string, Cookie> cookies = learnCookies(port, {"a", "b", "c"});
  ASSERT_EQ(cookies.size(), 3u);
  const std::string name = cookies["a"].name;
  const std::string valid = cookies["a"].value;

  const std::vector<std::string> garbage{
      name + "=garbage",
      name + "=",
      name + "=0000000000000000",    // well-formed, nobody's
      name + "=ffffffffffffffff",    // well-formed, nobody's
      name + "=" + valid + "0",      // too long
      name + "=" + valid.substr(1),  // too short
      name + "=" + valid.substr(0, 15) + "g",
      name + "=-" + valid.substr(1),
      "fiberlb_00000000=" + valid,  // a's id under a name that is not this LB's
  };
  std::map<std::string, int> count;
  for (const std::string& pair : garbage) {
    Response r = fetchFrom("127.0.0.1", port, getRequest("/", "Cookie: " + pair + "\r\n"));
    const std::string backend = servedBy(r);
    ++count[backend];
    std::optional<Cookie> k = newCookie(r);
    ASSERT_TRUE(k) << pair << ": no new cookie: " << describe(r);
    EXPECT_EQ(k->name, name) << pair;
    EXPECT_EQ(k->value, cookies[backend].value)
        << pair << ": the new cookie is not " << backend << "'s";
  }
  // Balanced by exact round-robin: 9 requests, 3 each.
  EXPECT_EQ(count, (std::map<std::string, int>{{"a", 3}, {"b", 3}, {"c", 3}}));
}

// =========================================================================================
// session_persistence = "source_ip"
// =========================================================================================

TEST(Persistence, SourceIpPinsHttpClientsWhateverTheMethod) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "roundrobin",
                                  kSourceIpPersistence)));
  const uint16_t port = lb.port();

  // 20 requests from 127.0.0.2: 10 on new connections, 10 on one keep-alive connection.
  std::map<std::string, int> from2;
  Conn keep(loopback(2));
  for (int i = 0; i < 10; ++i) {
    Response r = fetchFrom(loopback(2), port, getRequest("/"));
    ++from2[servedBy(r)];
    EXPECT_EQ(r.headerCount("Set-Cookie"), 0u) << describe(r);
    ++from2[servedBy(keep.exchange(port, getRequest("/"), deadlineIn(5000)))];
  }
  EXPECT_EQ(from2.size(), 1u) << ::testing::PrintToString(from2);
  EXPECT_EQ(from2.begin()->second, 20);
  EXPECT_EQ(keep.connects(), 1);

  // Each of 127.0.0.2..20 stays on one backend; together they use more than one.
  std::map<std::string, std::string> backend_of;
  std::map<std::string, int> spread;
  for (int host = 2; host <= 20; ++host) {
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i)
      seen.insert(servedBy(fetchFrom(loopback(host), port, getRequest("/"))));
    EXPECT_EQ(seen.size(), 1u) << loopback(host) << ": " << ::testing::PrintToString(seen);
    backend_of[loopback(host)] = *seen.begin();
    ++spread[*seen.begin()];
  }
  EXPECT_EQ(backend_of[loopback(2)], from2.begin()->first);
  EXPECT_GE(spread.size(), 2u) << ::testing::PrintToString(spread);
  for (const auto& [backend, n] : spread)
    EXPECT_TRUE(backend == "a" || backend == "b" || backend == "c") << backend;
}

// A reload that turns source_ip persistence on applies to keep-alive connections opened
// before it: their next requests follow their address like those of new connections.
TEST(Persistence, SourceIpAppliesToKeepAliveConnectionsOpenedBeforeTheReload) {
  TestBackend a("a"), b("b"), c("c");
  const std::vector<BackendConfig> backends{{"a", a.port()}, {"b", b.port()}, {"c", c.port()}};
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb(backends, "roundrobin", "")));
  const uint16_t port = lb.port();
  std::vector<std::unique_ptr<Conn>> old;
  for (int host = 2; host <= 13; ++host) {
    old.push_back(std::make_unique<Conn>(loopback(host)));
    const std::string backend =
        servedBy(old.back()->exchange(port, getRequest("/"), deadlineIn(5000)));
    ASSERT_FALSE(backend.starts_with("<")) << loopback(host) << ": " << backend;
  }

  ASSERT_TRUE(lb.reload(affinityLb(backends, "roundrobin", kSourceIpPersistence)));
  // Applied once new connections from one address stop rotating.
  ASSERT_TRUE(pollUntil(
      [&] {
        std::set<std::string> seen;
        for (int i = 0; i < 6; ++i)
          seen.insert(servedBy(fetchFrom(loopback(2), port, getRequest("/"))));
        return seen.size() == 1;
      },
      deadlineIn(5000), milliseconds(20)));

  std::map<std::string, int> old_spread;
  for (int host = 2; host <= 13; ++host) {
    Conn& conn = *old[static_cast<size_t>(host - 2)];
    const std::string home = servedBy(fetchFrom(loopback(host), port, getRequest("/")));
    std::set<std::string> seen;
    for (int i = 0; i < 4; ++i)
      seen.insert(servedBy(conn.exchange(port, getRequest("/"), deadlineIn(5000))));
    EXPECT_EQ(conn.connects(), 1) << loopback(host) << ": the reload closed the connection";
    EXPECT_EQ(seen, std::set<std::string>{home})
        << loopback(host) << ": its connection from before the reload goes to "
        << ::testing::PrintToString(seen) << ", its new connections to " << home;
    ++old_spread[*seen.begin()];
  }
  EXPECT_GE(old_spread.size(), 2u) << ::testing::PrintToString(old_spread);
}

TEST(Persistence, SourceIpPinsTcpConnections) {
  HelloBackends backends({"t1", "t2", "t3"});
  ASSERT_TRUE(backends.ok()) << backends.output();
  FiberlbConfig config = affinityLb(
      {{"t1", backends.port("t1")}, {"t2", backends.port("t2")}, {"t3", backends.port("t3")}},
      "roundrobin", kSourceIpPersistence);
  config.loadbalancers[0].name = "tcp";
  config.loadbalancers[0].protocol = "tcp";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port("tcp");

  std::map<std::string, int> from2;
  for (int i = 0; i < 20; ++i)
    ++from2[tcpBackendFrom(loopback(2), port)];
  EXPECT_EQ(from2.size(), 1u) << ::testing::PrintToString(from2);
  EXPECT_TRUE(from2.begin()->first.starts_with("t")) << from2.begin()->first;

  std::map<std::string, int> spread;
  for (int host = 2; host <= 20; ++host) {
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i)
      seen.insert(tcpBackendFrom(loopback(host), port));
    EXPECT_EQ(seen.size(), 1u) << loopback(host) << ": " << ::testing::PrintToString(seen);
    ++spread[*seen.begin()];
  }
  EXPECT_GE(spread.size(), 2u) << ::testing::PrintToString(spread);
}

// =========================================================================================
// method = "hash"
// =========================================================================================

// Per source address 127.0.0.2..20: the one backend its requests `raw` reach (3 new
// connections each); fails when an address reaches several. Returns backend -> addresses.
std::map<std::string, int> expectConsistentPerSource(uint16_t port, const std::string& raw) {
  std::map<std::string, int> spread;
  for (int host = 2; host <= 20; ++host) {
    std::set<std::string> seen;
    for (int i = 0; i < 3; ++i)
      seen.insert(servedBy(fetchFrom(loopback(host), port, raw)));
    EXPECT_EQ(seen.size(), 1u) << loopback(host) << ": " << ::testing::PrintToString(seen);
    ++spread[*seen.begin()];
  }
  return spread;
}

TEST(HashRouting, HeaderKeySendsEachValueToOneBackend) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "hash",
                                  hashKey("header:X-User"))));
  const uint16_t port = lb.port();

  // 200 users on one keep-alive connection: every request is routed by its own header.
  std::vector<std::string> backend_of(200);
  std::map<std::string, int> share;
  Conn keep;
  for (int i = 0; i < 200; ++i) {
    backend_of[i] = servedBy(keep.exchange(
        port, getRequest("/", "X-User: user-" + std::to_string(i) + "\r\n"), deadlineIn(5000)));
    ++share[backend_of[i]];
  }
  EXPECT_EQ(keep.connects(), 1);
  ASSERT_EQ(share.size(), 3u) << ::testing::PrintToString(share);
  // Expected 66.7 each (binomial sd 6.7): at least 40 is a reasonable share.
  for (const auto& [backend, n] : share)
    EXPECT_GE(n, 40) << backend << ": " << ::testing::PrintToString(share);

  // The same value reaches the same backend over new connections (both workers) and from
  // other source addresses, whatever the header name's case.
  const std::vector<std::string> spellings{"X-User", "x-user", "X-USER"};
  for (int i = 0; i < 200; i += 20) {
    for (int j = 0; j < 6; ++j) {
      const std::string header = spellings[j % 3] + ": user-" + std::to_string(i) + "\r\n";
      Response r = fetchFrom(loopback(2 + j), port, getRequest("/other/path", header));
      EXPECT_EQ(servedBy(r), backend_of[i]) << header << " from " << loopback(2 + j);
    }
  }

  // Without the header a request hashes its source address: consistent per address, also
  // between header-routed requests on the same keep-alive connection.
  std::map<std::string, int> spread = expectConsistentPerSource(port, getRequest("/"));
  EXPECT_GE(spread.size(), 2u) << ::testing::PrintToString(spread);
  const std::string home = servedBy(fetchFrom(loopback(3), port, getRequest("/")));
  Conn mixed(loopback(3));
  for (int i = 0; i < 10; ++i) {
    const std::string header = "X-User: user-" + std::to_string(i) + "\r\n";
    EXPECT_EQ(servedBy(mixed.exchange(port, getRequest("/", header), deadlineIn(5000))),
              backend_of[i]);
    EXPECT_EQ(servedBy(mixed.exchange(port, getRequest("/"), deadlineIn(5000))), home);
  }
  EXPECT_EQ(mixed.connects(), 1);
}

TEST(HashRouting, CookieKeySendsEachSessionToOneBackend) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "hash",
                                  hashKey("cookie:sid"))));
  const uint16_t port = lb.port();

  std::map<std::string, int> share;
  for (int i = 0; i < 60; ++i) {
    const std::string sid = "sess-" + std::to_string(i);
    std::set<std::string> seen;
    for (const std::string& header :
         {"Cookie: sid=" + sid + "\r\n", "Cookie: theme=dark; sid=" + sid + "; lang=en\r\n",
          "Cookie: theme=dark\r\nCookie: sid=" + sid + "\r\n"})
      seen.insert(servedBy(fetchFrom(loopback(2 + i % 5), port, getRequest("/", header))));
    EXPECT_EQ(seen.size(), 1u) << sid << ": " << ::testing::PrintToString(seen);
    ++share[*seen.begin()];
  }
  EXPECT_EQ(share.size(), 3u) << ::testing::PrintToString(share);

  // No sid cookie (absent, or only similar names): the source address decides.
  std::map<std::string, int> spread = expectConsistentPerSource(port, getRequest("/"));
  EXPECT_GE(spread.size(), 2u) << ::testing::PrintToString(spread);
  for (int host = 2; host <= 8; ++host) {
    const std::string home = servedBy(fetchFrom(loopback(host), port, getRequest("/")));
    for (const char* header : {"Cookie: sidx=sess-1; xsid=sess-2\r\n", "Cookie: SID=sess-3\r\n"})
      EXPECT_EQ(servedBy(fetchFrom(loopback(host), port, getRequest("/", header))), home)
          << header << " from " << loopback(host);
  }
}

TEST(HashRouting, UriKeySendsEachPathToOneBackend) {
  TestBackend a("a"), b("b"), c("c");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(
      affinityLb({{"a", a.port()}, {"b", b.port()}, {"c", c.port()}}, "hash", hashKey("uri"))));
  const uint16_t port = lb.port();

  std::map<std::string, int> share;
  Conn keep;
  for (int i = 0; i < 60; ++i) {
    const std::string path = "/item/" + std::to_string(i);
    std::set<std::string> seen;
    seen.insert(servedBy(keep.exchange(port, getRequest(path), deadlineIn(5000))));
    for (int j = 0; j < 3; ++j)
      seen.insert(servedBy(fetchFrom(loopback(2 + j), port,
                                     getRequest(path, "X-User: u" + std::to_string(j) + "\r\n"))));
    EXPECT_EQ(seen.size(), 1u) << path << ": " << ::testing::PrintToString(seen);
    ++share[*seen.begin()];
  }
  EXPECT_EQ(share.size(), 3u) << ::testing::PrintToString(share);
}

TEST(HashRouting, TcpHashesTheClientAddress) {
  HelloBackends backends({"t1", "t2", "t3"});
  ASSERT_TRUE(backends.ok()) << backends.output();
  FiberlbConfig config = affinityLb(
      {{"t1", backends.port("t1")}, {"t2", backends.port("t2")}, {"t3", backends.port("t3")}},
      "hash", "");
  config.loadbalancers[0].name = "tcp";
  config.loadbalancers[0].protocol = "tcp";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t port = lb.port("tcp");

  std::map<std::string, int> spread;
  for (int host = 2; host <= 20; ++host) {
    std::set<std::string> seen;
    for (int i = 0; i < 4; ++i)
      seen.insert(tcpBackendFrom(loopback(host), port));
    EXPECT_EQ(seen.size(), 1u) << loopback(host) << ": " << ::testing::PrintToString(seen);
    ++spread[*seen.begin()];
  }
  EXPECT_GE(spread.size(), 2u) << ::testing::PrintToString(spread);
}

// SPEC §4: removing one of N backends moves ~1/N of the keys — its own. One worker here, so
// that the first request routed by a new snapshot proves every later one is (the other hash
// tests check that both workers of a process route alike).
TEST(HashRouting, RemovingOneOfFourBackendsMovesOnlyItsKeys) {
  TestBackend a("a"), b("b"), c("c"), d("d");
  const std::vector<BackendConfig> all{
      {"a", a.port()}, {"b", b.port()}, {"c", c.port()}, {"d", d.port()}};
  const FiberlbConfig four = affinityLb(all, "hash", hashKey("header:X-User"), /*workers=*/1);
  const FiberlbConfig three =
      affinityLb({all[0], all[1], all[2]}, "hash", hashKey("header:X-User"), /*workers=*/1);
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(four));
  const uint16_t port = lb.port();
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  constexpr int kUsers = 400;
  auto user = [](int i) { return "X-User: user-" + std::to_string(i) + "\r\n"; };
  auto mapUsers = [&] {
    std::vector<std::string> out(kUsers);
    Conn keep;
    for (int i = 0; i < kUsers; ++i)
      out[i] = servedBy(keep.exchange(port, getRequest("/", user(i)), deadlineIn(5000)));
    return out;
  };
  auto countOf = [](const std::vector<std::string>& m) {
    std::map<std::string, int> n;
    for (const std::string& b : m)
      ++n[b];
    return n;
  };

  const std::vector<std::string> before = mapUsers();
  const std::map<std::string, int> before_count = countOf(before);
  ASSERT_EQ(before_count.size(), 4u) << ::testing::PrintToString(before_count);
  for (const auto& [backend, n] : before_count)
    EXPECT_GE(n, 60) << ::testing::PrintToString(before_count);  // expected 100 each
  int first_d_user = 0;
  while (before[first_d_user] != "d")
    ++first_d_user;

  // d leaves the config.
  Response r = postReload(lb, admin, three);
  ASSERT_EQ(r.status, 200) << describe(r) << "\n" << r.body;
  ASSERT_TRUE(pollUntil(
      [&] {
        const std::string s =
            servedBy(fetchFrom("127.0.0.1", port, getRequest("/", user(first_d_user))));
        return s != "d" && !s.starts_with("<");
      },
      deadlineIn(5000), milliseconds(10)))
      << "d's users still reach d after the reload";
  d.resetCounters();
  const std::vector<std::string> after = mapUsers();
  EXPECT_EQ(d.requestCount(), 0);
  int stayed = 0, survivors = 0, d_users = 0;
  std::map<std::string, int> d_went;
  std::vector<int> moved_survivors;
  for (int i = 0; i < kUsers; ++i) {
    if (before[i] == "d") {
      ++d_users;
      ++d_went[after[i]];
    } else {
      ++survivors;
      if (after[i] == before[i]) {
        ++stayed;
      } else {
        moved_survivors.push_back(i);
      }
    }
  }
  const std::string removal_report =
      "after removing d: " + std::to_string(stayed) + "/" + std::to_string(survivors) +
      " users of a/b/c kept their backend; d's " + std::to_string(d_users) + " users went to " +
      ::testing::PrintToString(d_went);
  std::cout << "[ key movement ] " << removal_report << "\n";
  RecordProperty("kept_after_removal", stayed);
  RecordProperty("survivors", survivors);
  // Maglev moves a few keys it need not move when the set changes: ~0.1% of all keys per
  // change, bounded at 0.5% in tests/unit/lb/maglev_test.cc (kExtraMovement). 0.5% of 400 is
  // 2 users; anything beyond that is not consistent hashing.
  EXPECT_LE(survivors - stayed, 2)
      << removal_report << "; moved: " << ::testing::PrintToString(moved_survivors);
  EXPECT_EQ(d_went.count("d"), 0u) << removal_report;
  // d's users spread over the three others rather than all landing on one neighbour.
  EXPECT_EQ(d_went.size(), 3u) << removal_report;
  for (const auto& [backend, n] : d_went)
    EXPECT_GE(n, d_users / 6) << removal_report;

  // d comes back: the mapping returns (the table is a function of the backend set).
  r = postReload(lb, admin, four);
  ASSERT_EQ(r.status, 200) << describe(r) << "\n" << r.body;
  ASSERT_TRUE(pollUntil(
      [&] {
        for (int i = 0; i < kUsers; ++i) {
          if (before[i] == "d" &&
              servedBy(fetchFrom("127.0.0.1", port, getRequest("/", user(i)))) == "d")
            return true;
        }
        return false;
      },
      deadlineIn(5000), milliseconds(10)))
      << "none of d's former users reaches d after it was added back";
  const std::vector<std::string> restored = mapUsers();
  int same = 0;
  for (int i = 0; i < kUsers; ++i)
    same += restored[i] == before[i] ? 1 : 0;
  std::cout << "[ key movement ] after adding d back: " << same << "/" << kUsers
            << " users have their original backend; shares "
            << ::testing::PrintToString(countOf(restored)) << "\n";
  RecordProperty("restored", same);
  // Two set changes, each allowed Maglev's extra disruption of 2 users (above).
  EXPECT_GE(same, kUsers - 4) << ::testing::PrintToString(countOf(restored));
}

}  // namespace
}  // namespace fiberlb::testing
