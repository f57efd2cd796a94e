#include "src/demo/demo_backends.h"

#include <llhttp.h>

#include "src/net/address.h"
#include "src/net/listen_socket.h"
#include "src/util/log.h"

namespace fiberlb::demo {

struct DemoBackends::Server {
  uv_tcp_t tcp{};
  std::string response;  // the whole canned response: this backend's identity as JSON
  std::string address;
};

namespace {

// One client connection of a demo backend. Answers every complete request.
struct DemoConnection {
  uv_tcp_t tcp{};
  llhttp_t parser{};
  const DemoBackends::Server* server = nullptr;
  uv_write_t write_req{};
  bool keep_alive = true;
};

void onConnectionClosed(uv_handle_t* handle) {
  delete static_cast<DemoConnection*>(handle->data);
}

void closeConnection(DemoConnection* c) {
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&c->tcp)))
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), &onConnectionClosed);
}

int onMessageComplete(llhttp_t* parser) {
  auto* c = static_cast<DemoConnection*>(parser->data);
  c->keep_alive = llhttp_should_keep_alive(parser) != 0;
  uv_buf_t buf = uv_buf_init(const_cast<char*>(c->server->response.data()),
                             static_cast<unsigned>(c->server->response.size()));
  // The response is static, so a try_write needs no lifetime management; the rare
  // partial write falls back to a queued write of the rest.
  int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1);
  if (n < 0) n = 0;
  if (static_cast<size_t>(n) < buf.len) {
    uv_buf_t rest = uv_buf_init(buf.base + n, buf.len - static_cast<unsigned>(n));
    auto* req = new uv_write_t;
    uv_write(req, reinterpret_cast<uv_stream_t*>(&c->tcp), &rest, 1,
             [](uv_write_t* r, int) { delete r; });
  }
  return 0;
}

const llhttp_settings_t* demoSettings() {
  static const llhttp_settings_t settings = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_complete = &onMessageComplete;
    return s;
  }();
  return &settings;
}

void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<DemoConnection*>(stream->data);
  if (nread > 0) {
    llhttp_errno_t err = llhttp_execute(&c->parser, buf->base, static_cast<size_t>(nread));
    if (err != HPE_OK || !c->keep_alive) closeConnection(c);
  } else if (nread < 0) {
    closeConnection(c);
  }
  delete[] buf->base;
}

void onAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  constexpr size_t kSize = 16 * 1024;
  *buf = uv_buf_init(new char[kSize], kSize);
}

void onAccept(uv_stream_t* server_stream, int status) {
  if (status < 0) return;
  auto* server = static_cast<DemoBackends::Server*>(server_stream->data);
  auto* c = new DemoConnection;
  c->server = server;
  c->tcp.data = c;
  uv_tcp_init(server_stream->loop, &c->tcp);
  if (uv_accept(server_stream, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    closeConnection(c);
    return;
  }
  llhttp_init(&c->parser, HTTP_REQUEST, demoSettings());
  c->parser.data = c;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), &onAlloc, &onRead);
}

std::string cannedResponse(const config::LoadBalancer& lb, const config::Backend& b) {
  std::string body = "{\"backend\":\"" + b.name + "\",\"region\":\"" + b.region +
                     "\",\"loadbalancer\":\"" + lb.name +
                     "\",\"message\":\"hello from a fiberlb demo backend\"}\n";
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Backend: " + b.name +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

bool isLoopback(const net::SocketAddress& addr) {
  if (addr.family() == AF_INET)
    return (ntohl(reinterpret_cast<const sockaddr_in*>(&addr.storage)->sin_addr.s_addr) >> 24) ==
           127;
  return addr.ip() == "::1";
}

}  // namespace

DemoBackends::DemoBackends() {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &stop_async_, &DemoBackends::onStop);
  stop_async_.data = this;
}

DemoBackends::~DemoBackends() {
  stop();
  uv_loop_close(&loop_);
}

bool DemoBackends::start(const config::Config& cfg, std::string* error) {
  for (const config::LoadBalancer& lb : cfg.loadbalancers) {
    for (const config::Backend& b : lb.backends) {
      net::SocketAddress addr;
      if (!net::parseIpLiteral(b.address, b.port, &addr) || !isLoopback(addr)) continue;
      net::ListenResult opened = net::openListeners(addr, 1, true);
      if (opened.fds.empty()) {
        *error = "demo backend " + b.name + ": " + opened.error;
        return false;
      }
      auto server = std::make_unique<Server>();
      server->response = cannedResponse(lb, b);
      server->address = addr.str();
      uv_tcp_init(&loop_, &server->tcp);
      server->tcp.data = server.get();
      uv_tcp_open(&server->tcp, opened.fds[0]);
      uv_listen(reinterpret_cast<uv_stream_t*>(&server->tcp), 1024, &onAccept);
      FLB_LOG(Info, "demo backend %s (region %s) serving on %s", b.name.c_str(), b.region.c_str(),
              server->address.c_str());
      servers_.push_back(std::move(server));
    }
  }
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
  return true;
}

void DemoBackends::onStop(uv_async_t* handle) {
  auto* self = static_cast<DemoBackends*>(handle->data);
  // Close everything so the loop ends: listeners (owned by servers_), the async, and the
  // open connections (which free themselves).
  uv_walk(
      &self->loop_,
      [](uv_handle_t* h, void* arg) {
        if (uv_is_closing(h)) return;
        auto* backends = static_cast<DemoBackends*>(arg);
        bool owned = h == reinterpret_cast<uv_handle_t*>(&backends->stop_async_);
        for (const auto& server : backends->servers_)
          owned = owned || h == reinterpret_cast<uv_handle_t*>(&server->tcp);
        uv_close(h, owned ? nullptr : &onConnectionClosed);
      },
      self);
}

void DemoBackends::stop() {
  if (!thread_.joinable()) return;
  uv_async_send(&stop_async_);
  thread_.join();
}

}  // namespace fiberlb::demo
