#include "health/probe.h"

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>

namespace fiberlb::health {
namespace {

using TlsStatus = net::tls::TlsChannel::Status;

// Socket reads of a TLS check land here before going into the TlsChannel. The server's first
// flight (certificate chain included) is a few KiB; larger ones just take several reads.
constexpr size_t kCiphertextBufferSize = 16 * 1024;

// A TLS record on its way to the socket. Owned by its write request: the write callback
// frees it, even after the attempt is gone (closing the socket cancels pending writes, whose
// callbacks then run before the close callback).
struct CiphertextWrite {
  uv_write_t req;
  std::string data;
};

// "HTTP/1.x SSS" and the space or CR after it: '#' is a digit, '_' a space or CR. These 13
// bytes decide the status; the reason phrase and the rest of the response are never needed.
constexpr std::string_view kStatusLinePattern = "HTTP/1.# ###_";

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

bool matchesPattern(char pattern, char c) {
  if (pattern == '#') return isDigit(c);
  if (pattern == '_') return c == ' ' || c == '\r';
  return pattern == c;
}

std::string renderRanges(const std::vector<config::StatusRange>& ranges) {
  std::string out;
  for (const auto& range : ranges) {
    if (!out.empty()) out += ',';
    out += std::to_string(range.low);
    if (range.high != range.low) out += '-' + std::to_string(range.high);
  }
  return out;
}

// Connection: close, so that a backend that ignores our early close still ends the exchange.
std::string buildRequest(const ProbeSpec& spec) {
  std::string host = spec.host.empty() ? spec.address.str() : spec.host;
  return "GET " + spec.path + " HTTP/1.1\r\nHost: " + host +
         "\r\nUser-Agent: fiberlb-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n";
}

ProbeResult makeResult(ProbeOutcome outcome, std::string detail, int status = 0) {
  ProbeResult result;
  result.outcome = outcome;
  result.detail = std::move(detail);
  result.status = status;
  return result;
}

}  // namespace

// One check in flight. Heap-allocated and self-owned: libuv may still hold its handles after
// the verdict (or after the Probe is gone), so it frees itself in the last close callback.
class ProbeAttempt {
 public:
  ProbeAttempt(Probe* probe, const ProbeSpec& spec, Probe::Done done);
  ProbeAttempt(const ProbeAttempt&) = delete;
  ProbeAttempt& operator=(const ProbeAttempt&) = delete;

  void begin();
  // Drops the callback and the Probe without a verdict; the attempt then winds itself down.
  void abandon();

 private:
  static void onConnect(uv_connect_t* req, int status);
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onTimer(uv_timer_t* timer);
  static void onClosed(uv_handle_t* handle);

  void onConnected();
  void sendRequest();
  void onStatusBytes();
  void onReadEnd(ssize_t error);
  // TLS (spec_.tls set, Http checks only).
  void startTls();
  void pumpTls();
  bool flushTls();
  void onTlsReadEnd(ssize_t error);
  void onTimeout();
  void finish(ProbeResult result);
  void finishSoon(ProbeResult result);
  void closeHandles();
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  Probe* probe_;
  Probe::Done done_;
  ProbeSpec spec_;
  uv_loop_t* loop_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_connect_t connect_req_;
  uv_write_t write_req_;
  std::string request_;       // must outlive the write
  std::array<char, 64> buf_;  // the start of the response (plaintext): its status line
  size_t used_ = 0;
  std::unique_ptr<net::tls::TlsChannel> tls_;  // from the connect on, for a TLS check
  std::unique_ptr<char[]> ciphertext_;         // kCiphertextBufferSize, for a TLS check
  uint64_t started_ms_ = 0;
  bool connected_ = false;
  bool finished_ = false;
  int open_handles_ = 0;
  std::optional<ProbeResult> early_result_;  // a failure found inside start(), reported later
};

ProbeAttempt::ProbeAttempt(Probe* probe, const ProbeSpec& spec, Probe::Done done)
    : probe_(probe), done_(std::move(done)), spec_(spec), loop_(probe->loop_) {
  uv_tcp_init(loop_, &tcp_);
  uv_timer_init(loop_, &timer_);
  open_handles_ = 2;
  tcp_.data = this;
  timer_.data = this;
  connect_req_.data = this;
}

void ProbeAttempt::begin() {
  started_ms_ = uv_now(loop_);
  uv_timer_start(&timer_, &ProbeAttempt::onTimer, spec_.timeout_ms, 0);
  int rc = uv_tcp_connect(&connect_req_, &tcp_, spec_.address.get(), &ProbeAttempt::onConnect);
  if (rc < 0) finishSoon(makeResult(ProbeOutcome::ConnectError, uv_strerror(rc)));
}

void ProbeAttempt::abandon() {
  finished_ = true;
  probe_ = nullptr;
  done_ = nullptr;
  closeHandles();
}

void ProbeAttempt::onConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<ProbeAttempt*>(req->data);
  if (self->finished_) return;  // includes UV_ECANCELED from our own close
  if (status < 0) {
    self->finish(makeResult(ProbeOutcome::ConnectError, uv_strerror(status)));
    return;
  }
  self->onConnected();
}

// Anything but Http (None should never reach a Probe) is judged by the connect alone, on a
// TLS backend too: a tcp check never starts a handshake (see ProbeSpec::tls).
void ProbeAttempt::onConnected() {
  connected_ = true;
  if (spec_.type != config::HealthCheckType::Http) {
    finish(makeResult(ProbeOutcome::Passed, ""));
  } else if (spec_.tls != nullptr) {
    startTls();
  } else {
    sendRequest();
  }
}

void ProbeAttempt::sendRequest() {
  request_ = buildRequest(spec_);
  int rc = uv_read_start(stream(), &ProbeAttempt::onAlloc, &ProbeAttempt::onRead);
  if (rc == 0) {
    uv_buf_t out = uv_buf_init(request_.data(), static_cast<unsigned>(request_.size()));
    // No write callback: a failed write is not a verdict by itself. A backend may answer and
    // close before reading the request, leaving its status line in our receive buffer; and
    // a broken connection ends the read too, which reports it in the reader's words.
    rc = uv_write(&write_req_, stream(), &out, 1, nullptr);
  }
  if (rc < 0) {
    finish(makeResult(ProbeOutcome::ConnectError,
                      std::string("cannot send the request: ") + uv_strerror(rc)));
  }
}

void ProbeAttempt::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<ProbeAttempt*>(handle->data);
  if (self->tls_ != nullptr) {
    *buf = uv_buf_init(self->ciphertext_.get(), kCiphertextBufferSize);
    return;
  }
  // Never full in practice: the status is decided after 13 bytes.
  buf->base = self->buf_.data() + self->used_;
  buf->len = self->buf_.size() - self->used_;
}

void ProbeAttempt::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<ProbeAttempt*>(stream->data);
  if (self->finished_ || nread == 0) return;
  if (nread < 0) {
    if (self->tls_ != nullptr) {
      self->onTlsReadEnd(nread);
    } else {
      self->onReadEnd(nread);
    }
    return;
  }
  if (self->tls_ != nullptr) {
    self->tls_->feed(buf->base, static_cast<size_t>(nread));
    self->pumpTls();
    return;
  }
  self->used_ += static_cast<size_t>(nread);
  self->onStatusBytes();
}

// The handshake starts at once (the ClientHello); the request goes out with the client's
// Finished, once the server's certificate has been verified (pumpTls).
void ProbeAttempt::startTls() {
  tls_ = std::make_unique<net::tls::TlsChannel>(spec_.tls->get(), spec_.tls_peer);
  if (!tls_->error().empty()) {  // out of memory, or a name OpenSSL refuses
    finish(makeResult(ProbeOutcome::ConnectError, "TLS handshake failed: " + tls_->error()));
    return;
  }
  ciphertext_ = std::make_unique<char[]>(kCiphertextBufferSize);
  int rc = uv_read_start(stream(), &ProbeAttempt::onAlloc, &ProbeAttempt::onRead);
  if (rc < 0) {
    finish(makeResult(ProbeOutcome::ConnectError,
                      std::string("cannot read from the backend: ") + uv_strerror(rc)));
    return;
  }
  pumpTls();
}

// Advances the handshake with what was fed, sends what TLS has to send, and hands the
// plaintext (the start of the response) to the status-line parser, until TLS needs more
// bytes from the socket or there is a verdict.
void ProbeAttempt::pumpTls() {
  while (!finished_) {
    const bool was_done = tls_->handshakeDone();
    size_t n = 0;
    // Never asks for 0 bytes: the status line is decided within 13 of the 64.
    const TlsStatus status = tls_->read(buf_.data() + used_, buf_.size() - used_, &n);
    if (!was_done && tls_->handshakeDone()) {
      request_ = buildRequest(spec_);
      if (!tls_->write(request_.data(), request_.size())) {
        finish(makeResult(ProbeOutcome::ConnectError,
                          "cannot send the request over TLS: " + tls_->error()));
        return;
      }
    }
    // Also on Error: the alert telling the server why (e.g. its certificate did not verify)
    // is queued before the socket closes, which usually lets it out.
    if (!flushTls()) return;
    switch (status) {
      case TlsStatus::Ok:
        used_ += n;
        onStatusBytes();  // a verdict, or wait for the rest of the status line
        break;
      case TlsStatus::WantMore:
        return;
      case TlsStatus::Closed:  // close_notify before a complete status line
        onReadEnd(UV_EOF);
        return;
      case TlsStatus::Error:
        finish(makeResult(
            ProbeOutcome::ConnectError,
            (tls_->handshakeDone() ? "TLS error: " : "TLS handshake failed: ") + tls_->error()));
        return;
    }
  }
}

// Writes the pending ciphertext. As for a plain check, a failed write is no verdict by
// itself: the read side reports the broken connection (or the timeout does). False (with a
// verdict) only when the write cannot even be queued.
bool ProbeAttempt::flushTls() {
  if (!tls_->hasOutput()) return true;
  auto* write = new CiphertextWrite;
  write->req.data = write;
  tls_->takeOutput(&write->data);
  uv_buf_t out = uv_buf_init(write->data.data(), static_cast<unsigned>(write->data.size()));
  int rc = uv_write(&write->req, stream(), &out, 1,
                    [](uv_write_t* req, int) { delete static_cast<CiphertextWrite*>(req->data); });
  if (rc < 0) {
    delete write;
    finish(makeResult(ProbeOutcome::ConnectError,
                      std::string("cannot send to the backend: ") + uv_strerror(rc)));
    return false;
  }
  return true;
}

// The socket's end. Every byte read so far went through pumpTls, so after the handshake this
// is the plain case; during it, the backend gave up on TLS (or never spoke it).
void ProbeAttempt::onTlsReadEnd(ssize_t error) {
  if (tls_->handshakeDone()) {
    onReadEnd(error);
  } else if (error == UV_EOF) {
    finish(makeResult(ProbeOutcome::ConnectError,
                      "TLS handshake failed: connection closed by the backend"));
  } else if (error == UV_ECONNRESET) {
    finish(makeResult(ProbeOutcome::ConnectError,
                      "TLS handshake failed: connection reset by the backend"));
  } else {
    finish(makeResult(ProbeOutcome::ConnectError, std::string("TLS handshake failed: ") +
                                                      uv_strerror(static_cast<int>(error))));
  }
}

void ProbeAttempt::onStatusBytes() {
  int status = parseStatusLine(buf_.data(), used_);
  if (status == 0) return;  // wait for the rest of the status line
  if (status < 0) {
    finish(makeResult(ProbeOutcome::BadResponse, "not an HTTP response"));
  } else if (statusExpected(status, spec_.expected_status)) {
    finish(makeResult(ProbeOutcome::Passed, "", status));
  } else {
    finish(makeResult(
        ProbeOutcome::BadStatus,
        "status " + std::to_string(status) + " not in " + renderRanges(spec_.expected_status),
        status));
  }
}

void ProbeAttempt::onReadEnd(ssize_t error) {
  if (error == UV_EOF) {
    finish(makeResult(ProbeOutcome::BadResponse,
                      used_ == 0 ? "connection closed without a response"
                                 : "connection closed before a complete status line"));
  } else if (error == UV_ECONNRESET) {
    finish(makeResult(ProbeOutcome::ConnectError, "connection reset before a response"));
  } else {
    finish(makeResult(ProbeOutcome::ConnectError, std::string("reading the response failed: ") +
                                                      uv_strerror(static_cast<int>(error))));
  }
}

void ProbeAttempt::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<ProbeAttempt*>(timer->data);
  if (self->finished_) return;
  if (self->early_result_) {
    self->finish(std::move(*self->early_result_));
  } else {
    self->onTimeout();
  }
}

void ProbeAttempt::onTimeout() {
  std::string limit = std::to_string(spec_.timeout_ms) + " ms";
  std::string detail;
  if (!connected_) {
    detail = "connect timed out after " + limit;
  } else if (tls_ != nullptr && !tls_->handshakeDone()) {
    detail = "TLS handshake timed out after " + limit;
  } else {
    detail = "no response within " + limit;
  }
  finish(makeResult(ProbeOutcome::Timeout, std::move(detail)));
}

// The callback must not run inside start(): the caller may not expect re-entry. The timer,
// already armed for the timeout, is re-armed to fire on the next loop iteration.
void ProbeAttempt::finishSoon(ProbeResult result) {
  early_result_ = std::move(result);
  uv_timer_start(&timer_, &ProbeAttempt::onTimer, 0, 0);
}

// Detaches before calling back, so the callback may start the Probe again or destroy it.
void ProbeAttempt::finish(ProbeResult result) {
  if (finished_) return;
  finished_ = true;
  result.elapsed_ms = uv_now(loop_) - started_ms_;
  Probe::Done done = std::move(done_);
  done_ = nullptr;
  if (probe_ != nullptr) probe_->attempt_ = nullptr;
  probe_ = nullptr;
  closeHandles();  // `this` lives on until the close callbacks, after this call returns
  if (done) done(result);
}

void ProbeAttempt::closeHandles() {
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &ProbeAttempt::onClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &ProbeAttempt::onClosed);
}

void ProbeAttempt::onClosed(uv_handle_t* handle) {
  auto* self = static_cast<ProbeAttempt*>(handle->data);
  if (--self->open_handles_ == 0) delete self;
}

void Probe::start(const ProbeSpec& spec, Done done) {
  cancel();  // precondition is !running(); never leak a check in flight regardless
  attempt_ = new ProbeAttempt(this, spec, std::move(done));
  attempt_->begin();
}

void Probe::cancel() {
  if (attempt_ == nullptr) return;
  ProbeAttempt* attempt = attempt_;
  attempt_ = nullptr;
  attempt->abandon();
}

int parseStatusLine(const char* data, size_t len) {
  size_t checked = std::min(len, kStatusLinePattern.size());
  for (size_t i = 0; i < checked; ++i) {
    if (!matchesPattern(kStatusLinePattern[i], data[i])) return -1;
  }
  if (len < kStatusLinePattern.size()) return 0;
  int status = (data[9] - '0') * 100 + (data[10] - '0') * 10 + (data[11] - '0');
  return status >= 100 ? status : -1;
}

bool statusExpected(int status, const std::vector<config::StatusRange>& ranges) {
  for (const auto& range : ranges) {
    if (status >= range.low && status <= range.high) return true;
  }
  return false;
}

const char* toString(ProbeOutcome outcome) {
  switch (outcome) {
    case ProbeOutcome::Passed:
      return "passed";
    case ProbeOutcome::Timeout:
      return "timeout";
    case ProbeOutcome::ConnectError:
      return "connect_error";
    case ProbeOutcome::BadStatus:
      return "bad_status";
    case ProbeOutcome::BadResponse:
      return "bad_response";
  }
  return "unknown";
}

}  // namespace fiberlb::health
