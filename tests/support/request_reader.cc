#include "tests/support/request_reader.h"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>

namespace fiberlb::testing {
namespace {

constexpr size_t kMaxHead = 1 << 20;

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return std::string(s);
}

template <typename T>
bool parseWhole(const std::string& text, T& out, int base) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return ec == std::errc() && p == text.data() + text.size() && !text.empty();
}

}  // namespace

std::optional<std::string> RecordedRequest::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

size_t RecordedRequest::headerCount(std::string_view name) const {
  size_t n = 0;
  for (const auto& h : headers)
    n += iequals(h.name, name) ? 1 : 0;
  return n;
}

bool RequestReader::fill() {
  char tmp[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
    if (n > 0) {
      buf_.append(tmp, static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    return false;
  }
}

std::string RequestReader::take(size_t n) {
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  return out;
}

std::optional<std::string> RequestReader::head() {
  for (size_t scanned = 0;;) {
    const size_t end = buf_.find("\r\n\r\n", scanned);
    if (end != std::string::npos) return take(end + 4);
    scanned = buf_.size() > 3 ? buf_.size() - 3 : 0;
    if (buf_.size() > kMaxHead || !fill()) return std::nullopt;
  }
}

std::optional<std::string> RequestReader::exact(size_t n) {
  while (buf_.size() < n) {
    if (!fill()) return std::nullopt;
  }
  return take(n);
}

std::optional<std::string> RequestReader::line() {
  for (;;) {
    const size_t end = buf_.find("\r\n");
    if (end != std::string::npos) {
      std::string l = take(end + 2);
      l.resize(l.size() - 2);
      return l;
    }
    if (!fill()) return std::nullopt;
  }
}

std::string RequestReader::takeAll() {
  return take(buf_.size());
}

std::optional<std::string> RequestReader::some() {
  if (buf_.empty() && !fill()) return std::nullopt;
  return takeAll();
}

bool parseRequestHead(const std::string& head, RecordedRequest& r) {
  r.head = head;
  const size_t line_end = head.find("\r\n");
  const std::string request_line = head.substr(0, line_end);
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string::npos || sp2 == sp1) return false;
  r.method = request_line.substr(0, sp1);
  r.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  r.version = request_line.substr(sp2 + 1);
  for (size_t pos = line_end + 2; pos < head.size();) {
    const size_t end = head.find("\r\n", pos);
    if (end == pos || end == std::string::npos) break;
    const std::string_view l(head.data() + pos, end - pos);
    const size_t colon = l.find(':');
    if (colon == std::string::npos) return false;
    r.headers.push_back({std::string(l.substr(0, colon)), trim(l.substr(colon + 1))});
    pos = end + 2;
  }
  return true;
}

bool readRequestBody(RequestReader& in, RecordedRequest& r) {
  const auto te = r.header("Transfer-Encoding");
  if (te && te->find("chunked") != std::string::npos) {
    for (;;) {
      auto size_line = in.line();
      if (!size_line) return false;
      uint64_t size = 0;
      if (!parseWhole(trim(size_line->substr(0, size_line->find(';'))), size, 16)) return false;
      if (size == 0) break;
      auto data = in.exact(size + 2);
      if (!data) return false;
      r.body.append(*data, 0, size);
    }
    for (;;) {  // trailers up to the empty line
      auto l = in.line();
      if (!l) return false;
      if (l->empty()) return true;
    }
  }
  if (auto cl = r.header("Content-Length")) {
    uint64_t len = 0;
    if (!parseWhole(*cl, len, 10)) return false;
    auto data = in.exact(len);
    if (!data) return false;
    r.body = std::move(*data);
  }
  return true;
}

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace fiberlb::testing
