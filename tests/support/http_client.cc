#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace fiberlb::testing {
namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return std::string(s);
}

std::optional<uint64_t> parseNumber(std::string_view s, int base) {
  uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::optional<std::string> Response::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

size_t Response::headerCount(std::string_view name) const {
  size_t n = 0;
  for (const auto& h : headers)
    n += iequals(h.name, name) ? 1 : 0;
  return n;
}

HttpClient::~HttpClient() {
  close();
}

void HttpClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void HttpClient::shutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

bool HttpClient::connect(uint16_t port, Deadline deadline, const std::string& ip) {
  close();
  buf_.clear();
  pos_ = 0;
  eof_ = reset_ = false;
  error_.clear();
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      error_ = std::string("connect: ") + std::strerror(errno);
      close();
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, remainingMs(deadline)) != 1) {
      error_ = "connect: timed out";
      close();
      return false;
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      error_ = std::string("connect: ") + std::strerror(err);
      close();
      return false;
    }
  }
  return true;
}

bool HttpClient::send(std::string_view bytes, Deadline deadline) {
  if (fd_ < 0) {
    error_ = "send: not connected";
    return false;
  }
  return sendWithin(fd_, bytes, deadline, error_);
}

bool sendWithin(int fd, std::string_view bytes, Deadline deadline, std::string& error) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd, POLLOUT, 0};
      if (::poll(&p, 1, remainingMs(deadline)) == 1) continue;
      error = "send: timed out";
      return false;
    }
    error = std::string("send: ") + std::strerror(errno);
    return false;
  }
  return true;
}

bool HttpClient::fill(Deadline deadline) {
  if (fd_ < 0 || eof_) return false;
  if (pos_ > (1 << 20) && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char tmp[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd p{fd_, POLLIN, 0};
      const int left = remainingMs(deadline);
      if (left > 0 && ::poll(&p, 1, left) == 1) continue;
      error_ = "read: timed out";
      return false;
    }
    eof_ = true;
    reset_ = errno == ECONNRESET;
    error_ = std::string("read: ") + std::strerror(errno);
    return false;
  }
}

bool HttpClient::need(size_t n, Deadline deadline) {
  while (buf_.size() - pos_ < n) {
    if (!fill(deadline)) return false;
  }
  return true;
}

std::optional<std::string> HttpClient::readLine(Deadline deadline) {
  // `scanned` is relative to pos_ because fill() may compact the buffer.
  for (size_t scanned = 0;;) {
    const size_t crlf = buf_.find("\r\n", pos_ + scanned);
    if (crlf != std::string::npos) {
      std::string line = buf_.substr(pos_, crlf - pos_);
      pos_ = crlf + 2;
      return line;
    }
    const size_t unread = buf_.size() - pos_;
    scanned = unread > 0 ? unread - 1 : 0;
    if (!fill(deadline)) return std::nullopt;
  }
}

bool HttpClient::readChunkedBody(Response& r, Deadline deadline) {
  for (;;) {
    auto line = readLine(deadline);
    if (!line) return false;
    std::string_view size_text(*line);
    size_text = size_text.substr(0, size_text.find(';'));
    auto size = parseNumber(trim(size_text), 16);
    if (!size) {
      r.error = "bad chunk size line: " + *line;
      return false;
    }
    if (*size == 0) break;
    if (!need(*size + 2, deadline)) return false;
    r.body.append(buf_, pos_, *size);
    if (buf_.compare(pos_ + *size, 2, "\r\n") != 0) {
      r.error = "chunk not followed by CRLF";
      return false;
    }
    pos_ += *size + 2;
  }
  for (;;) {  // trailers up to the empty line
    auto line = readLine(deadline);
    if (!line) return false;
    if (line->empty()) return true;
  }
}

Response HttpClient::readResponse(Deadline deadline, bool head_request) {
  Response r;
  auto fail = [&](const std::string& what) {
    if (r.error.empty()) r.error = what + (error_.empty() ? "" : " (" + error_ + ")");
    if (r.error.find("closed") == std::string::npos && eof_) r.error += " [connection closed]";
    return r;
  };
  for (;;) {
    r = Response{};
    auto status_line = readLine(deadline);
    if (!status_line) return fail("no status line");
    const size_t sp1 = status_line->find(' ');
    if (sp1 == std::string::npos) return fail("bad status line: " + *status_line);
    r.version = status_line->substr(0, sp1);
    const size_t sp2 = status_line->find(' ', sp1 + 1);
    auto code = parseNumber(std::string_view(*status_line).substr(sp1 + 1, sp2 - sp1 - 1), 10);
    if (!code) return fail("bad status code: " + *status_line);
    r.status = static_cast<int>(*code);
    r.reason = sp2 == std::string::npos ? "" : status_line->substr(sp2 + 1);
    for (;;) {
      auto line = readLine(deadline);
      if (!line) return fail("incomplete head");
      if (line->empty()) break;
      const size_t colon = line->find(':');
      if (colon == std::string::npos) return fail("bad header line: " + *line);
      r.headers.push_back(
          {line->substr(0, colon), trim(std::string_view(*line).substr(colon + 1))});
    }
    if (r.status >= 200 || r.status == 101) break;
  }
  if (head_request || r.status == 204 || r.status == 304 || r.status == 101) return r;
  const auto te = r.header("Transfer-Encoding");
  if (te && te->find("chunked") != std::string::npos) {
    r.chunked = true;
    if (!readChunkedBody(r, deadline)) return fail("incomplete chunked body");
    return r;
  }
  if (auto cl = r.header("Content-Length")) {
    auto len = parseNumber(*cl, 10);
    if (!len) return fail("bad Content-Length: " + *cl);
    if (!need(*len, deadline)) {
      r.body = buf_.substr(pos_);
      return fail("incomplete body (" + std::to_string(buf_.size() - pos_) + " of " +
                  std::to_string(*len) + " bytes)");
    }
    r.body = buf_.substr(pos_, *len);
    pos_ += *len;
    return r;
  }
  r.until_close = true;
  while (fill(deadline)) {
  }
  r.body = buf_.substr(pos_);
  pos_ = buf_.size();
  if (!eof_) return fail("body not terminated by close");
  return r;
}

std::optional<std::string> HttpClient::readBytes(size_t n, Deadline deadline) {
  if (!need(n, deadline)) return std::nullopt;
  std::string out = buf_.substr(pos_, n);
  pos_ += n;
  return out;
}

std::vector<Response> HttpClient::pipeline(const std::vector<std::string>& requests,
                                           Deadline deadline) {
  std::string all;
  for (const auto& r : requests)
    all += r;
  std::vector<Response> out;
  if (!send(all, deadline)) {
    Response r;
    r.error = error_;
    out.push_back(r);
    return out;
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    out.push_back(readResponse(deadline));
    if (!out.back().ok()) break;
  }
  return out;
}

bool HttpClient::waitReadable(Deadline deadline) {
  if (pos_ < buf_.size() || eof_) return true;
  if (fd_ < 0) return false;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, remainingMs(deadline)) == 1;
}

bool HttpClient::waitClosed(Deadline deadline) {
  while (!eof_) {
    if (!fill(deadline) && !eof_) return false;
  }
  return true;
}

std::string getRequest(std::string_view path, std::string_view extra_headers,
                       std::string_view host) {
  std::string r = "GET ";
  r.append(path).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\n");
  r.append(extra_headers).append("\r\n");
  return r;
}

Response fetch(uint16_t port, std::string_view raw_request, Deadline deadline) {
  HttpClient c;
  Response r;
  if (!c.connect(port, deadline)) {
    r.error = c.error();
    return r;
  }
  if (!c.send(raw_request, deadline)) {
    r.error = c.error();
    return r;
  }
  return c.readResponse(deadline, raw_request.substr(0, 5) == "HEAD ");
}

}  // namespace fiberlb::testing
