#include "src/http/forward_head.h"

#include <llhttp.h>

#include <charconv>

#include "src/http/header_rules.h"

namespace fiberlb::http {
namespace {

constexpr std::string_view kVia = "1.1 fiberlb";

void appendNumber(std::string* out, uint64_t value) {
  char digits[24];
  auto result = std::to_chars(digits, digits + sizeof digits, value);
  out->append(digits, static_cast<size_t>(result.ptr - digits));
}

void appendHeader(std::string* out, std::string_view name, std::string_view value) {
  out->append(name);
  out->append(": ");
  out->append(value);
  out->append("\r\n");
}

// Headers we drop from the original and restate ourselves.
bool restatedInRequest(HeaderKind kind) {
  switch (kind) {
    case HeaderKind::ContentLength:
    case HeaderKind::XForwardedFor:
    case HeaderKind::XForwardedProto:
    case HeaderKind::XForwardedHost:
    case HeaderKind::Via:
      return true;
    default:
      return false;
  }
}

// "name: v1, v2, extra" for a list-valued header that may appear several times.
void appendJoined(const MessageHead& head, HeaderKind kind, std::string_view name,
                  std::string_view extra, std::string* out) {
  out->append(name);
  out->append(": ");
  for (int i = 0; i < head.header_count; ++i) {
    if (head.headers[i].kind != kind) continue;
    out->append(head.value(i));
    out->append(", ");
  }
  out->append(extra);
  out->append("\r\n");
}

void appendFraming(BodyFraming framing, uint64_t length, std::string* out) {
  if (framing == BodyFraming::ContentLength) {
    out->append("Content-Length: ");
    appendNumber(out, length);
    out->append("\r\n");
  } else if (framing == BodyFraming::Chunked) {
    out->append("Transfer-Encoding: chunked\r\n");
  }
}

void appendUpgrade(const MessageHead& head, std::string* out) {
  int upgrade = head.find(HeaderKind::Upgrade);
  if (upgrade >= 0) appendHeader(out, "Upgrade", head.value(upgrade));
  out->append("Connection: upgrade\r\n");
}

}  // namespace

void writeUpstreamRequest(const MessageHead& head, const RequestRewrite& rw, std::string* out) {
  out->clear();
  out->append(llhttp_method_name(static_cast<llhttp_method_t>(head.method)));
  out->push_back(' ');
  out->append(head.view(head.url));
  out->append(" HTTP/1.1\r\n");

  for (int i = 0; i < head.header_count; ++i) {
    if (isHopByHop(head, i) || restatedInRequest(head.headers[i].kind)) continue;
    appendHeader(out, head.name(i), head.value(i));
  }
  int host = head.find(HeaderKind::Host);
  if (host < 0 && !rw.default_host.empty()) appendHeader(out, "Host", rw.default_host);
  appendFraming(rw.framing, rw.content_length, out);
  if (rw.upgrade) appendUpgrade(head, out);

  appendJoined(head, HeaderKind::XForwardedFor, "X-Forwarded-For", rw.client_ip, out);
  appendHeader(out, "X-Forwarded-Proto", rw.proto);
  if (host >= 0) appendHeader(out, "X-Forwarded-Host", head.value(host));
  appendJoined(head, HeaderKind::Via, "Via", kVia, out);
  if (head.find(HeaderKind::XRequestId) < 0 && !rw.request_id.empty())
    appendHeader(out, "X-Request-Id", rw.request_id);
  out->append("\r\n");
}

void writeDownstreamResponse(const MessageHead& head, const ResponseRewrite& rw, std::string* out) {
  out->clear();
  out->append("HTTP/1.1 ");
  appendNumber(out, static_cast<uint64_t>(head.status));
  out->push_back(' ');
  out->append(head.view(head.reason));
  out->append("\r\n");

  for (int i = 0; i < head.header_count; ++i) {
    HeaderKind kind = head.headers[i].kind;
    if (isHopByHop(head, i) || kind == HeaderKind::ContentLength || kind == HeaderKind::Via)
      continue;
    appendHeader(out, head.name(i), head.value(i));
  }
  appendFraming(rw.framing, rw.content_length, out);
  appendJoined(head, HeaderKind::Via, "Via", kVia, out);
  if (!rw.set_cookie.empty()) appendHeader(out, "Set-Cookie", rw.set_cookie);
  if (rw.upgrade) {
    appendUpgrade(head, out);
  } else if (rw.close) {
    out->append("Connection: close\r\n");
  } else if (rw.client_http10) {
    out->append("Connection: keep-alive\r\n");
  }
  out->append("\r\n");
}

size_t formatChunkHeader(uint64_t size, char* out) {
  auto result = std::to_chars(out, out + 17, size, 16);
  size_t n = static_cast<size_t>(result.ptr - out);
  out[n++] = '\r';
  out[n++] = '\n';
  return n;
}

}  // namespace fiberlb::http
