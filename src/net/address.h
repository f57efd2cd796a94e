#pragma once
// Socket addresses: parsing literals, resolving names (control loop only), formatting.

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

namespace fiberlb::net {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  int port() const;
  // "127.0.0.1:8080" or "[::1]:8080".
  std::string str() const;
  // Just the IP, without brackets or port: what X-Forwarded-For wants.
  std::string ip() const;
};

// Parses an IPv4/IPv6 literal (no brackets) and a port. False if `ip` is not a literal.
bool parseIpLiteral(const std::string& ip, int port, SocketAddress* out);

// Resolves a hostname or literal with getaddrinfo. Blocks: control loop / start-up only.
bool resolve(const std::string& host, int port, SocketAddress* out, std::string* error);

// Splits "host:port" / "[v6]:port". False on malformed input.
bool splitHostPort(const std::string& hostport, std::string* host, int* port);

// Formats the IP of a peer address into `out` (at least INET6_ADDRSTRLEN bytes); returns
// its length. Used once per accepted connection, so no std::string.
size_t formatIp(const sockaddr* addr, char* out, size_t cap);

}  // namespace fiberlb::net
