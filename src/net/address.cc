#include "src/net/address.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>

namespace fiberlb::net {

int SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6)
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string SocketAddress::ip() const {
  char buf[INET6_ADDRSTRLEN];
  size_t n = formatIp(get(), buf, sizeof buf);
  return std::string(buf, n);
}

std::string SocketAddress::str() const {
  std::string host = ip();
  if (family() == AF_INET6) host = "[" + host + "]";
  return host + ":" + std::to_string(port());
}

size_t formatIp(const sockaddr* addr, char* out, size_t cap) {
  const void* raw = nullptr;
  if (addr->sa_family == AF_INET) {
    raw = &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr;
  } else if (addr->sa_family == AF_INET6) {
    raw = &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
  }
  if (raw == nullptr ||
      inet_ntop(addr->sa_family, raw, out, static_cast<socklen_t>(cap)) == nullptr) {
    out[0] = '\0';
    return 0;
  }
  return strlen(out);
}

bool parseIpLiteral(const std::string& ip, int port, SocketAddress* out) {
  *out = SocketAddress{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out->storage);
  if (inet_pton(AF_INET, ip.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    out->length = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out->storage);
  if (inet_pton(AF_INET6, ip.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    out->length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

bool resolve(const std::string& host, int port, SocketAddress* out, std::string* error) {
  if (parseIpLiteral(host, port, out)) return true;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0 || result == nullptr) {
    *error = "cannot resolve '" + host + "': " + gai_strerror(rc);
    return false;
  }
  *out = SocketAddress{};
  memcpy(&out->storage, result->ai_addr, result->ai_addrlen);
  out->length = result->ai_addrlen;
  freeaddrinfo(result);
  if (out->family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&out->storage)->sin_port = htons(static_cast<uint16_t>(port));
  } else {
    reinterpret_cast<sockaddr_in6*>(&out->storage)->sin6_port = htons(static_cast<uint16_t>(port));
  }
  return true;
}

bool splitHostPort(const std::string& hostport, std::string* host, int* port) {
  size_t colon;
  if (!hostport.empty() && hostport[0] == '[') {
    size_t close = hostport.find(']');
    if (close == std::string::npos || close + 1 >= hostport.size() || hostport[close + 1] != ':')
      return false;
    *host = hostport.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = hostport.rfind(':');
    if (colon == std::string::npos) return false;
    *host = hostport.substr(0, colon);
  }
  std::string digits = hostport.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) return false;
  int value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  if (value > 65535) return false;
  *port = value;
  return true;
}

}  // namespace fiberlb::net
