#include "src/proxy/client_session.h"

#include "src/net/address.h"

namespace fiberlb::proxy {

bool ClientSession::acceptOn(uv_loop_t* loop, uv_stream_t* server, uv_tcp_t* tcp, char* ip,
                             size_t ip_size) {
  uv_tcp_init(loop, tcp);
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(tcp)) != 0) return false;
  uv_tcp_nodelay(tcp, 1);
  sockaddr_storage peer{};
  int len = sizeof peer;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&peer), &len) == 0)
    net::formatIp(reinterpret_cast<sockaddr*>(&peer), ip, ip_size);
  return true;
}

}  // namespace fiberlb::proxy
