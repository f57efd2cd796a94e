#pragma once
// A raw-socket HTTP/1.x client for tests: sends arbitrary bytes (malformed on purpose when
// needed), reads responses framed by Content-Length, chunked encoding or connection close,
// and tells whether the server closed the connection. Every call takes a deadline.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/deadline.h"

namespace fiberlb::testing {

struct Header {
  std::string name;
  std::string value;
};

struct Response {
  std::string error;  // non-empty when no complete response was read
  std::string version;
  int status = 0;
  std::string reason;
  std::vector<Header> headers;
  std::string body;
  bool chunked = false;      // the body came chunked
  bool until_close = false;  // the body was delimited by the connection closing

  bool ok() const { return error.empty(); }
  // First value of `name` (case-insensitive), or nullopt.
  std::optional<std::string> header(std::string_view name) const;
  size_t headerCount(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient() = default;
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Connects to ip:port; false (see error()) on failure or at the deadline.
  bool connect(uint16_t port, Deadline deadline, const std::string& ip = "127.0.0.1");
  bool connected() const { return fd_ >= 0; }
  void close();
  void shutdownWrite();

  bool send(std::string_view bytes, Deadline deadline);
  // Reads one response (skipping 1xx interim ones). `head_request`: the response has no body.
  Response readResponse(Deadline deadline, bool head_request = false);
  // Exactly `n` raw bytes (e.g. after a 101 upgrade); nullopt on close or deadline.
  std::optional<std::string> readBytes(size_t n, Deadline deadline);
  // Sends every request in one write, then reads one response for each, in order.
  std::vector<Response> pipeline(const std::vector<std::string>& requests, Deadline deadline);
  // True once the peer has closed the connection (FIN or RST) before the deadline; bytes
  // that arrive meanwhile are kept in pending().
  bool waitClosed(Deadline deadline);
  // True once response bytes (or the close) are available to read, false at the deadline.
  bool waitReadable(Deadline deadline);
  bool peerClosed() const { return eof_; }
  bool wasReset() const { return reset_; }
  std::string_view pending() const { return std::string_view(buf_).substr(pos_); }
  const std::string& error() const { return error_; }

 private:
  // Reads more bytes into buf_; false on EOF, error or deadline.
  bool fill(Deadline deadline);
  // Ensures `n` unread bytes are buffered.
  bool need(size_t n, Deadline deadline);
  // Returns the next CRLF-terminated line (without CRLF).
  std::optional<std::string> readLine(Deadline deadline);
  bool readChunkedBody(Response& r, Deadline deadline);

  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false;
  bool reset_ = false;
  std::string error_;
};

// "GET <path> HTTP/1.1" with Host and the given extra header lines ("Name: v\r\n" each).
std::string getRequest(std::string_view path, std::string_view extra_headers = "",
                       std::string_view host = "test.local");
// One request on a fresh connection; the connection is then closed.
Response fetch(uint16_t port, std::string_view raw_request, Deadline deadline);
// Equal ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b);
// Sends all of `bytes` on the non-blocking socket `fd`, waiting for room until the deadline;
// false when that failed, with `error` set to "send: timed out" or "send: <reason>".
bool sendWithin(int fd, std::string_view bytes, Deadline deadline, std::string& error);

}  // namespace fiberlb::testing
