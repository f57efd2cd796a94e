#include "src/admin/admin_connection.h"

#include <strings.h>

#include <algorithm>
#include <cctype>

#include "src/admin/admin_server.h"
#include "src/http/message_head.h"
#include "src/http/ows.h"

namespace fiberlb::admin {
namespace {

constexpr uint64_t kRequestTimeoutMs = 30000;  // first byte to last byte of one request
constexpr uint64_t kIdleTimeoutMs = 60000;     // no byte read or written
constexpr uint64_t kLingerMs = 2000;           // after our FIN, wait this long for theirs
constexpr size_t kMaxTargetBytes = 8 * 1024;
// A client that pipelines without reading would make us buffer answers without bound.
constexpr size_t kMaxQueuedOutput = 4 * 1024 * 1024;

struct WriteRequest {
  uv_write_t req{};
  std::string data;
  AdminConnection* connection = nullptr;
};

AdminConnection* self(llhttp_t* p) {
  return static_cast<AdminConnection*>(p->data);
}

// Origin-form "/p?q" from origin or absolute form ("http://host/p?q").
void splitTarget(Request* r) {
  std::string_view t = r->target;
  if (size_t scheme = t.find("://"); scheme != std::string_view::npos && t.front() != '/') {
    size_t slash = t.find('/', scheme + 3);
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  size_t q = t.find('?');
  r->path = std::string(t.substr(0, q));
  r->query = q == std::string_view::npos ? std::string() : std::string(t.substr(q + 1));
}

}  // namespace

AdminConnection::AdminConnection(AdminServer* server) : server_(server) {}

bool AdminConnection::start(uv_stream_t* listener) {
  uv_tcp_init(server_->loop(), &tcp_);
  tcp_.data = this;
  if (uv_accept(listener, stream()) != 0) {
    close();
    return false;
  }
  uv_tcp_nodelay(&tcp_, 1);
  llhttp_init(&parser_, HTTP_REQUEST, settings());
  parser_.data = this;
  last_activity_ms_ = uv_now(server_->loop());
  startReading();
  return !closing_;
}

void AdminConnection::close() {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), &AdminConnection::onClosed);
}

void AdminConnection::onClosed(uv_handle_t* handle) {
  auto* c = static_cast<AdminConnection*>(handle->data);
  c->server_->forget(c);
  delete c;
}

void AdminConnection::startReading() {
  if (reading_ || closing_) return;
  if (uv_read_start(stream(), &AdminConnection::onAlloc, &AdminConnection::onRead) != 0) {
    close();
    return;
  }
  reading_ = true;
}

void AdminConnection::stopReading() {
  if (!reading_) return;
  uv_read_stop(stream());
  reading_ = false;
}

void AdminConnection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  *buf = static_cast<AdminConnection*>(handle->data)->server_->readBuffer();
}

void AdminConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<AdminConnection*>(stream->data);
  if (nread == 0 || c->closing_) return;
  if (nread < 0) {
    // EOF after complete requests (a client that half-closes once it has sent them):
    // still deliver the answers, then close.
    c->peer_closed_ = true;
    c->stopReading();
    if (nread == UV_EOF && !c->in_request_ && !c->lingering_ && c->writes_in_flight_ > 0) {
      c->finish_after_write_ = true;
    } else {
      c->close();
    }
    return;
  }
  c->last_activity_ms_ = uv_now(c->server_->loop());
  if (c->lingering_ || c->finish_after_write_) return;  // closing: discard
  c->consume(buf->base, static_cast<size_t>(nread));
  c->flush();
}

void AdminConnection::consume(const char* data, size_t len) {
  llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  if (err == HPE_OK) return;
  // Paused: a response said Connection: close (or the request asked for an upgrade, which
  // the admin API does not do); whatever follows is not read.
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    finish_after_write_ = true;
    return;
  }
  if (reject_status_ == 0) {
    appendResponse(
        errorResponse(400, "bad_request",
                      std::string("malformed HTTP request: ") + llhttp_get_error_reason(&parser_)),
        true, false, false);
    finish_after_write_ = true;
  } else {
    reject(reject_status_);
  }
}

void AdminConnection::reject(int status) {
  Response r;
  switch (status) {
    case 408:
      r = errorResponse(408, "request_timeout", "the request did not arrive in time");
      break;
    case 413:
      r = errorResponse(413, "payload_too_large", "request bodies are limited to 1 MiB");
      break;
    case 414:
      r = errorResponse(414, "uri_too_long", "request targets are limited to 8 KiB");
      break;
    default:
      r = errorResponse(431, "headers_too_large",
                        "request heads are limited to 64 KiB and 100 header fields");
  }
  appendResponse(r, true, false, false);
  finish_after_write_ = true;
}

void AdminConnection::appendResponse(const Response& r, bool close, bool head_only,
                                     bool http10_keep_alive) {
  output_.append("HTTP/1.1 ").append(std::to_string(r.status)).append(" ");
  output_.append(reasonPhrase(r.status)).append("\r\n");
  output_.append("Content-Type: ").append(r.content_type).append("\r\n");
  output_.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n");
  output_.append("Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n");
  for (const auto& [name, value] : r.headers)
    output_.append(name).append(": ").append(value).append("\r\n");
  if (close) {
    output_.append("Connection: close\r\n");
  } else if (http10_keep_alive) {
    output_.append("Connection: keep-alive\r\n");
  }
  output_.append("\r\n");
  if (!head_only) output_.append(r.body);
}

void AdminConnection::flush() {
  if (closing_) return;
  if (!output_.empty()) {
    auto* w = new WriteRequest;
    w->data.swap(output_);
    w->connection = this;
    w->req.data = w;
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    if (uv_write(&w->req, stream(), &buf, 1, &AdminConnection::onWrite) != 0) {
      delete w;
      close();
      return;
    }
    writes_in_flight_++;
    if (uv_stream_get_write_queue_size(stream()) > kMaxQueuedOutput) stopReading();
  }
  if (finish_after_write_ && writes_in_flight_ == 0) finish();
}

void AdminConnection::onWrite(uv_write_t* req, int status) {
  auto* w = static_cast<WriteRequest*>(req->data);
  AdminConnection* c = w->connection;
  delete w;
  c->writes_in_flight_--;
  if (c->closing_) return;
  if (status < 0) {
    c->close();
    return;
  }
  c->last_activity_ms_ = uv_now(c->server_->loop());
  if (c->writes_in_flight_ > 0) return;
  if (c->finish_after_write_) {
    c->finish();
  } else {
    c->startReading();  // back-pressure released
  }
}

// Half-close, then read and discard until the client closes too: closing with unread bytes
// would send an RST that can destroy the response before the client has read it.
void AdminConnection::finish() {
  if (peer_closed_) {
    close();
    return;
  }
  if (lingering_ || closing_) return;
  lingering_ = true;
  linger_start_ms_ = uv_now(server_->loop());
  shutdown_req_.data = this;
  if (uv_shutdown(&shutdown_req_, stream(), &AdminConnection::onShutdown) != 0) {
    close();
    return;
  }
  startReading();
}

void AdminConnection::onShutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<AdminConnection*>(req->data);
  if (status < 0 && !c->closing_) c->close();
}

void AdminConnection::sweep(uint64_t now_ms) {
  if (closing_) return;
  if (lingering_) {
    if (now_ms - linger_start_ms_ >= kLingerMs) close();
    return;
  }
  if (now_ms - last_activity_ms_ >= kIdleTimeoutMs) {
    close();
    return;
  }
  if (in_request_ && !finish_after_write_ && now_ms - request_start_ms_ >= kRequestTimeoutMs) {
    reject(408);
    flush();
  }
}

// ---- llhttp callbacks: collect one request into request_ ----

const llhttp_settings_t* AdminConnection::settings() {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &AdminConnection::onMessageBegin;
    s.on_url = &AdminConnection::onUrl;
    s.on_header_field = &AdminConnection::onHeaderField;
    s.on_header_field_complete = &AdminConnection::onHeaderFieldComplete;
    s.on_header_value = &AdminConnection::onHeaderValue;
    s.on_headers_complete = &AdminConnection::onHeadersComplete;
    s.on_body = &AdminConnection::onBody;
    s.on_message_complete = &AdminConnection::onMessageComplete;
    return s;
  }();
  return &kSettings;
}

int AdminConnection::onMessageBegin(llhttp_t* p) {
  AdminConnection* c = self(p);
  c->request_ = Request{};
  c->field_.clear();
  c->value_.clear();
  c->field_done_ = false;
  c->head_bytes_ = 0;
  c->in_request_ = true;
  c->request_start_ms_ = uv_now(c->server_->loop());
  return 0;
}

int AdminConnection::onUrl(llhttp_t* p, const char* at, size_t len) {
  AdminConnection* c = self(p);
  c->head_bytes_ += len;
  c->request_.target.append(at, len);
  if (c->request_.target.size() > kMaxTargetBytes) {
    c->reject_status_ = 414;
    return -1;
  }
  return 0;
}

bool AdminConnection::commitHeader() {
  if (request_.headers.size() >= static_cast<size_t>(http::kMaxHeaders)) {
    reject_status_ = 431;
    return false;
  }
  std::transform(field_.begin(), field_.end(), field_.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  request_.headers.emplace_back(std::move(field_), std::string(http::trimOws(value_)));
  field_.clear();
  value_.clear();
  field_done_ = false;
  return true;
}

int AdminConnection::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  AdminConnection* c = self(p);
  if (c->field_done_ && !c->commitHeader()) return -1;
  c->head_bytes_ += len;
  if (c->head_bytes_ > http::kMaxHeadBytes) {
    c->reject_status_ = 431;
    return -1;
  }
  c->field_.append(at, len);
  return 0;
}

int AdminConnection::onHeaderFieldComplete(llhttp_t* p) {
  self(p)->field_done_ = true;
  return 0;
}

int AdminConnection::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  AdminConnection* c = self(p);
  c->head_bytes_ += len;
  if (c->head_bytes_ > http::kMaxHeadBytes) {
    c->reject_status_ = 431;
    return -1;
  }
  c->value_.append(at, len);
  return 0;
}

int AdminConnection::onHeadersComplete(llhttp_t* p) {
  AdminConnection* c = self(p);
  if (c->field_done_ && !c->commitHeader()) return -1;
  Request& r = c->request_;
  r.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  splitTarget(&r);
  if ((p->flags & F_CONTENT_LENGTH) != 0 && p->content_length > kMaxBodyBytes) {
    c->reject_status_ = 413;
    return -1;
  }
  // curl and others wait for this before sending a large body.
  const std::string* expect = r.header("expect");
  if (expect != nullptr && strcasecmp(expect->c_str(), "100-continue") == 0 && p->http_minor >= 1)
    c->output_.append("HTTP/1.1 100 Continue\r\n\r\n");
  return 0;
}

int AdminConnection::onBody(llhttp_t* p, const char* at, size_t len) {
  AdminConnection* c = self(p);
  if (c->request_.body.size() + len > kMaxBodyBytes) {
    c->reject_status_ = 413;
    return -1;
  }
  c->request_.body.append(at, len);
  return 0;
}

int AdminConnection::onMessageComplete(llhttp_t* p) {
  AdminConnection* c = self(p);
  c->in_request_ = false;
  const bool keep_alive = llhttp_should_keep_alive(p) != 0 && p->upgrade == 0;
  const bool head_only = c->request_.method == "HEAD";
  Response response = c->server_->handle(c->request_);
  c->appendResponse(response, !keep_alive, head_only,
                    keep_alive && p->http_major == 1 && p->http_minor == 0);
  // Stop parsing after the last response this connection will send.
  return keep_alive ? 0 : HPE_PAUSED;
}

}  // namespace fiberlb::admin
