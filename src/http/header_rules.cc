#include "src/http/header_rules.h"

#include <strings.h>

namespace fiberlb::http {

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

HeaderKind classifyHeader(std::string_view name) {
  auto is = [&](std::string_view candidate) { return equalsIgnoreCase(name, candidate); };
  switch (name.size()) {
    case 2:
      return is("te") ? HeaderKind::Te : HeaderKind::Other;
    case 3:
      return is("via") ? HeaderKind::Via : HeaderKind::Other;
    case 4:
      return is("host") ? HeaderKind::Host : HeaderKind::Other;
    case 7:
      if (is("upgrade")) return HeaderKind::Upgrade;
      if (is("trailer")) return HeaderKind::Trailer;
      return HeaderKind::Other;
    case 10:
      if (is("connection")) return HeaderKind::Connection;
      if (is("keep-alive")) return HeaderKind::KeepAlive;
      return HeaderKind::Other;
    case 12:
      return is("x-request-id") ? HeaderKind::XRequestId : HeaderKind::Other;
    case 14:
      return is("content-length") ? HeaderKind::ContentLength : HeaderKind::Other;
    case 15:
      if (is("x-forwarded-for")) return HeaderKind::XForwardedFor;
      return HeaderKind::Other;
    case 16:
      if (is("proxy-connection")) return HeaderKind::ProxyConnection;
      if (is("x-forwarded-host")) return HeaderKind::XForwardedHost;
      return HeaderKind::Other;
    case 17:
      if (is("transfer-encoding")) return HeaderKind::TransferEncoding;
      if (is("x-forwarded-proto")) return HeaderKind::XForwardedProto;
      return HeaderKind::Other;
    default:
      return HeaderKind::Other;
  }
}

void collectConnectionTokens(MessageHead* head, Span value) {
  std::string_view text = head->view(value);
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    size_t begin = pos;
    size_t end = comma;
    while (begin < end && (text[begin] == ' ' || text[begin] == '\t'))
      ++begin;
    while (end > begin && (text[end - 1] == ' ' || text[end - 1] == '\t'))
      --end;
    std::string_view token = text.substr(begin, end - begin);
    pos = comma + 1;
    if (token.empty() || equalsIgnoreCase(token, "close") ||
        equalsIgnoreCase(token, "keep-alive") || equalsIgnoreCase(token, "upgrade")) {
      continue;
    }
    if (head->connection_token_count < kMaxConnectionTokens) {
      head->connection_tokens[head->connection_token_count++] =
          Span{value.offset + static_cast<uint32_t>(begin), static_cast<uint32_t>(token.size())};
    }
  }
}

bool isHopByHop(const MessageHead& head, int index) {
  switch (head.headers[index].kind) {
    case HeaderKind::Connection:
    case HeaderKind::KeepAlive:
    case HeaderKind::ProxyConnection:
    case HeaderKind::Te:
    case HeaderKind::Trailer:
    case HeaderKind::TransferEncoding:
    case HeaderKind::Upgrade:
      return true;
    default:
      break;
  }

  // Only ordinary headers can be named hop-by-hop: a client must not be able to strip the
  // framing or Host by listing them in Connection (a known smuggling trick).
  if (head.headers[index].kind != HeaderKind::Other || head.connection_token_count == 0)
    return false;
  std::string_view name = head.name(index);
  for (int t = 0; t < head.connection_token_count; ++t)
    if (equalsIgnoreCase(name, head.view(head.connection_tokens[t]))) return true;
  return false;
}

}  // namespace fiberlb::http
