#include "src/http/parser.h"

#include <cstring>

#include "src/http/header_rules.h"

namespace fiberlb::http {
namespace {

Parser* self(llhttp_t* p) {
  return static_cast<Parser*>(p->data);
}

}  // namespace

const llhttp_settings_t* Parser::settings() {
  static const llhttp_settings_t kSettings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &Parser::onMessageBegin;
    s.on_url = &Parser::onUrl;
    s.on_status = &Parser::onStatus;
    s.on_header_field = &Parser::onHeaderField;
    s.on_header_field_complete = &Parser::onHeaderFieldComplete;
    s.on_header_value = &Parser::onHeaderValue;
    s.on_header_value_complete = &Parser::onHeaderValueComplete;
    s.on_headers_complete = &Parser::onHeadersComplete;
    s.on_body = &Parser::onBody;
    s.on_message_complete = &Parser::onMessageComplete;
    return s;
  }();
  return &kSettings;
}

Parser::Parser(llhttp_type_t type, MessageSink* sink) : sink_(sink) {
  llhttp_init(&parser_, type, settings());
  parser_.data = this;
}

void Parser::reset() {
  llhttp_reset(&parser_);
  parser_.data = this;
  in_message_ = head_done_ = in_field_ = in_value_ = false;
  too_many_headers_ = aborted_ = skip_body_ = false;
  error_reason_ = nullptr;
}

ParseStatus Parser::execute(const char* base, const char* data, size_t len) {
  if (llhttp_get_errno(&parser_) != HPE_OK) {
    // Still paused (a caller that forgot resume()) or failed: llhttp would return at once
    // with a stale error position. Refuse instead of consuming garbage.
    consumed_ = 0;
    error_reason_ = "parser is paused or failed";
    return ParseStatus::BadMessage;
  }
  base_ = base;
  head_.base = base;
  consumed_ = len;
  llhttp_errno_t err = llhttp_execute(&parser_, data, len);
  switch (err) {
    case HPE_OK:
      return ParseStatus::Ok;
    case HPE_PAUSED:
      consumed_ = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
      return ParseStatus::Paused;
    case HPE_PAUSED_UPGRADE:
      consumed_ = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
      return ParseStatus::Upgrade;
    default:
      break;
  }
  if (aborted_) return ParseStatus::Aborted;
  if (too_many_headers_) return ParseStatus::HeadTooLarge;
  if (error_reason_ == nullptr) error_reason_ = llhttp_get_error_reason(&parser_);
  return ParseStatus::BadMessage;
}

bool Parser::finish() {
  bool was_in_message = in_message_;
  llhttp_errno_t err = llhttp_finish(&parser_);
  return was_in_message && (err == HPE_OK || err == HPE_PAUSED) && !in_message_;
}

void Parser::extend(Span* span, uint32_t offset, size_t len) {
  if (span->length == 0) span->offset = offset;
  span->length += static_cast<uint32_t>(len);
}

int Parser::onMessageBegin(llhttp_t* p) {
  Parser* s = self(p);
  s->head_.clear();
  s->in_message_ = true;
  s->head_done_ = false;
  s->in_field_ = s->in_value_ = false;
  return 0;
}

int Parser::onUrl(llhttp_t* p, const char* at, size_t len) {
  Parser* s = self(p);
  extend(&s->head_.url, s->offsetOf(at), len);
  return 0;
}

int Parser::onStatus(llhttp_t* p, const char* at, size_t len) {
  Parser* s = self(p);
  extend(&s->head_.reason, s->offsetOf(at), len);
  return 0;
}

int Parser::onHeaderField(llhttp_t* p, const char* at, size_t len) {
  Parser* s = self(p);
  MessageHead& h = s->head_;
  if (!s->in_field_) {
    if (h.header_count == kMaxHeaders) {
      s->too_many_headers_ = true;
      return -1;
    }
    h.headers[h.header_count++] = HeaderField{};
    s->in_field_ = true;
  }
  extend(&h.headers[h.header_count - 1].name, s->offsetOf(at), len);
  return 0;
}

int Parser::onHeaderFieldComplete(llhttp_t* p) {
  Parser* s = self(p);
  s->in_field_ = false;
  HeaderField& f = s->head_.headers[s->head_.header_count - 1];
  f.kind = classifyHeader(std::string_view(s->base_ + f.name.offset, f.name.length));
  return 0;
}

int Parser::onHeaderValue(llhttp_t* p, const char* at, size_t len) {
  Parser* s = self(p);
  extend(&s->head_.headers[s->head_.header_count - 1].value, s->offsetOf(at), len);
  return 0;
}

// llhttp accepts a few things in header values that a proxy must not pass on, because the
// next hop may read them differently (RFC 9112 §5.2 obs-fold, bare CR, NUL).
bool Parser::checkValue(Span value) {
  const char* v = base_ + value.offset;
  for (uint32_t i = 0; i < value.length; ++i) {
    char c = v[i];
    if (c == '\r' || c == '\n' || c == '\0') {
      error_reason_ = c == '\n' ? "obsolete line folding (obs-fold) is not allowed"
                                : "invalid character in header value";
      return false;
    }
  }
  return true;
}

int Parser::onHeaderValueComplete(llhttp_t* p) {
  Parser* s = self(p);
  HeaderField& f = s->head_.headers[s->head_.header_count - 1];
  if (!s->checkValue(f.value)) return -1;
  if (f.kind == HeaderKind::Connection) collectConnectionTokens(&s->head_, f.value);
  return 0;
}

int Parser::onHeadersComplete(llhttp_t* p) {
  Parser* s = self(p);
  MessageHead& h = s->head_;
  s->head_done_ = true;
  // llhttp rejects a request whose Transfer-Encoding does not end in chunked only after this
  // callback; refuse it here so such a head never reaches a backend (RFC 9112 §6.3).
  if (p->type == HTTP_REQUEST && (p->flags & F_TRANSFER_ENCODING) != 0 &&
      (p->flags & F_CHUNKED) == 0) {
    s->error_reason_ = "Transfer-Encoding must end with chunked";
    return -1;
  }
  h.method = p->method;
  h.status = p->status_code;
  h.http_major = p->http_major;
  h.http_minor = p->http_minor;
  if (!s->sink_->onHeadersComplete(h)) {
    s->aborted_ = true;
    return -1;
  }
  return s->skip_body_ ? 1 : 0;
}

int Parser::onBody(llhttp_t* p, const char* at, size_t len) {
  self(p)->sink_->onBody(at, len);
  return 0;
}

int Parser::onMessageComplete(llhttp_t* p) {
  Parser* s = self(p);
  s->in_message_ = false;
  s->sink_->onMessageComplete();
  // Stop after each message so requests are answered in order; an upgrade instead lets
  // llhttp return HPE_PAUSED_UPGRADE with the position where the tunnel bytes start.
  return p->upgrade ? 0 : HPE_PAUSED;
}

}  // namespace fiberlb::http
