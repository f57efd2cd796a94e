#include "src/net/listen_socket.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace fiberlb::net {
namespace {

int openOne(const SocketAddress& addr, bool stream, int backlog, std::string* error) {
  int fd =
      socket(addr.family(), (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket(): ") + strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, addr.get(), addr.length) != 0) {
    *error = "cannot bind " + addr.str() + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  if (stream && listen(fd, backlog) != 0) {
    *error = "cannot listen on " + addr.str() + ": " + strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

// SO_REUSEPORT lets any process of the same user join a port group silently — a second
// fiberlb would share the traffic instead of failing. A plain bind first proves the port
// is free; it is released at once and the group is created right after.
bool portIsFree(const SocketAddress& addr, bool stream, std::string* error) {
  int fd = socket(addr.family(), (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;  // the real open will report the problem
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  bool free = bind(fd, addr.get(), addr.length) == 0;
  if (!free) *error = "cannot bind " + addr.str() + ": " + strerror(errno);
  close(fd);
  return free;
}

}  // namespace

ListenResult openListeners(const SocketAddress& addr, int count, bool stream, int backlog) {
  ListenResult result;
  if (addr.port() != 0 && !portIsFree(addr, stream, &result.error)) return result;
  SocketAddress target = addr;
  for (int i = 0; i < count; ++i) {
    int fd = openOne(target, stream, backlog, &result.error);
    if (fd < 0) {
      for (int open_fd : result.fds)
        close(open_fd);
      result.fds.clear();
      return result;
    }
    if (i == 0) {
      // Learn the real port so that the other workers' sockets join the same group.
      target.length = sizeof target.storage;
      getsockname(fd, reinterpret_cast<sockaddr*>(&target.storage), &target.length);
      result.bound = target;
    }
    result.fds.push_back(fd);
  }
  return result;
}

}  // namespace fiberlb::net
