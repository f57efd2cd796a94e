#include "src/admin/admin_server.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "src/admin/admin_connection.h"
#include "src/admin/handlers.h"
#include "src/util/log.h"

namespace fiberlb::admin {
namespace {

// A plain listening socket. Not openListeners(): that sets SO_REUSEPORT (right for the
// workers' sharded LB sockets), which would let a second fiberlb bind the same admin port
// silently and take half of its connections instead of failing with "address in use".
int openSocket(const net::SocketAddress& addr, net::SocketAddress* bound, std::string* error) {
  int fd = socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = "cannot listen on " + addr.str() + ": socket(): " + strerror(errno);
    return -1;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // restart over TIME_WAIT
  if (addr.family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (bind(fd, addr.get(), addr.length) != 0 || listen(fd, 128) != 0) {
    *error = "cannot listen on " + addr.str() + ": " + strerror(errno);
    ::close(fd);
    return -1;
  }
  bound->length = sizeof bound->storage;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound->storage), &bound->length);
  return fd;
}

}  // namespace

AdminServer::AdminServer(uv_loop_t* loop, const AdminSource& source, AdminActions& actions)
    : loop_(loop) {
  addRoutes(router_, source, actions);
}

AdminServer::~AdminServer() = default;

bool AdminServer::start(const std::string& addr, std::string* error) {
  std::string host;
  int port = 0;
  net::SocketAddress target;
  std::string why;
  if (!net::splitHostPort(addr, &host, &port)) {
    *error = "cannot start the admin API: admin_api_addr '" + addr + "' is not host:port";
    return false;
  }
  if (!net::resolve(host, port, &target, &why)) {  // blocks: start-up only
    *error = "cannot start the admin API on " + addr + ": " + why;
    return false;
  }
  int fd = openSocket(target, &bound_, &why);
  if (fd < 0) {
    *error = "cannot start the admin API: " + why;
    return false;
  }
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  uv_tcp_open(&listener_, fd);
  int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, &AdminServer::onAccept);
  uv_timer_init(loop_, &sweep_timer_);
  sweep_timer_.data = this;
  open_ = true;
  if (rc != 0) {
    *error =
        "cannot start the admin API: cannot listen on " + bound_.str() + ": " + uv_strerror(rc);
    close();
    return false;
  }
  uv_timer_start(&sweep_timer_, &AdminServer::onSweep, kSweepIntervalMs, kSweepIntervalMs);
  FLB_LOG(Info, "admin API listening addr=%s", bound_.str().c_str());
  return true;
}

void AdminServer::close() {
  if (!open_) return;
  open_ = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), nullptr);
  // close() only starts closing; each connection leaves connections_ in its close callback.
  for (AdminConnection* c : connections_)
    c->close();
}

void AdminServer::onAccept(uv_stream_t* listener, int status) {
  auto* self = static_cast<AdminServer*>(listener->data);
  if (status < 0 || !self->open_) return;
  auto* c = new AdminConnection(self);
  self->connections_.insert(c);
  if (!c->start(listener)) return;  // already closing; frees itself
  if (self->connections_.size() > kMaxConnections) {
    FLB_LOG(Warn, "admin API: more than %zu connections; closing a new one", kMaxConnections);
    c->close();
  }
}

void AdminServer::onSweep(uv_timer_t* timer) {
  auto* self = static_cast<AdminServer*>(timer->data);
  const uint64_t now = uv_now(self->loop_);
  for (AdminConnection* c : self->connections_)
    c->sweep(now);
}

}  // namespace fiberlb::admin
