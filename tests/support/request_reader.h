#pragma once
// Server-side reading of HTTP/1.x requests for TestBackend: blocking reads with a carry-over
// buffer, head parsing and (de-chunked) body reading. Deliberately simple and lenient: it
// records what fiberlb forwarded, it does not judge it.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/http_client.h"

namespace fiberlb::testing {

struct RecordedRequest {
  std::string method;
  std::string target;
  std::string version;
  std::vector<Header> headers;
  std::string head;  // raw request line and header lines, up to and including CRLFCRLF
  std::string body;  // de-chunked
  std::optional<std::string> header(std::string_view name) const;
  size_t headerCount(std::string_view name) const;
};

// Blocking reads from one connected socket.
class RequestReader {
 public:
  explicit RequestReader(int fd) : fd_(fd) {}

  // The next request head including the final CRLFCRLF; nullopt on EOF, error or > 1 MiB.
  std::optional<std::string> head();
  std::optional<std::string> exact(size_t n);
  std::optional<std::string> line();  // without its CRLF
  std::string takeAll();              // whatever is buffered
  std::optional<std::string> some();  // buffered bytes, or the next read; nullopt at EOF

 private:
  bool fill();
  std::string take(size_t n);

  int fd_;
  std::string buf_;
};

// Parses `head` into `r`; false when it is not a request line plus header lines.
bool parseRequestHead(const std::string& head, RecordedRequest& r);
// Reads the body that r's headers announce (Content-Length or chunked) into r.body.
bool readRequestBody(RequestReader& in, RecordedRequest& r);
// Writes all of `data` (blocking); false when the peer has gone.
bool sendAll(int fd, std::string_view data);

}  // namespace fiberlb::testing
