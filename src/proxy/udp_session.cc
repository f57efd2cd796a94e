#include "src/proxy/udp_session.h"

#include <algorithm>
#include <cstring>

#include "lb/hash_key.h"
#include "lb/picker.h"
#include "src/net/address.h"
#include "src/proxy/connect_failure.h"
#include "src/proxy/lb_runtime.h"
#include "src/proxy/udp_proxy.h"
#include "src/proxy/worker.h"
#include "src/util/log.h"

namespace fiberlb::proxy {
namespace {

// What a connected UDP socket reports when the ICMP error of an earlier datagram came back:
// the backend (or the way to it) refused it.
bool isBackendError(int status) {
  return status == UV_ECONNREFUSED || status == UV_EHOSTUNREACH || status == UV_ENETUNREACH ||
         status == UV_EHOSTDOWN;
}

// Our own shortage, not the backend's fault: the breaker does not hear of it.
bool isLocalError(int status) {
  return status == UV_EMFILE || status == UV_ENFILE || status == UV_ENOBUFS || status == UV_ENOMEM;
}

void closeSocket(uv_udp_t* socket) {
  socket->data = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(socket),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_udp_t*>(h); });
}

}  // namespace

UdpSession::UdpSession(UdpProxy* proxy, const UdpPeer& client, const UdpPeerKey& key)
    : proxy_(proxy), client_(client), key_(key) {
  idle.owner = this;
}

UdpSession::~UdpSession() {
  unbind();
  dropReplay();
}

// ---- Client -> backend -------------------------------------------------------------------

void UdpSession::fromClient(const char* data, size_t len) {
  touch();
  // Removed by a reload, disabled, drained, unhealthy or its circuit open: move on.
  if (backend_ != nullptr && !proxy_->serving(slot_)) unbind();
  // A send can meet the refusal of an earlier datagram (it fails, and this one is not sent):
  // the next backend gets it. Bounded, as each pass fails a backend.
  for (int pass = 0; pass < kMaxTried; ++pass) {
    if (backend_ == nullptr) {
      UdpDrop why = UdpDrop::NoBackend;
      if (!bind(&why)) {
        proxy_->drop(why);
        return;
      }
    }
    const int rc = sendToBackend(data, len);
    if (rc >= 0) return;
    if (!isBackendError(rc)) {
      proxy_->warnDropping("a datagram could not be sent to its backend", rc);
      break;
    }
    backendFailed(rc);
  }
  proxy_->drop(UdpDrop::Error);
}

int UdpSession::sendToBackend(const char* data, size_t len) {
  uv_buf_t buf = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
  const int rc = uv_udp_try_send(socket_, &buf, 1, nullptr);
  if (rc >= 0) keepForReplay(data, len);
  return rc;
}

// ---- Binding ----------------------------------------------------------------------------

// Picks a backend as the LB's method says (honouring circuits and max_connections) and
// connects a socket to it. False, with the reason, when no backend takes the client now.
bool UdpSession::bind(UdpDrop* why) {
  LbRuntime& lb = proxy_->lb();
  Worker* worker = proxy_->worker();
  worker->holdCurrent(&hold_);
  lb::PickContext ctx;
  ctx.tried = tried_;
  if (lb.hash_requests || lb.source_ip_picker != nullptr) {
    // L4 has one key to hash, whatever hash_key says: the client's IP (as TcpSession).
    char ip[INET6_ADDRSTRLEN];
    ctx.hash = lb::hashKey({ip, net::formatIp(&client_.sa, ip, sizeof ip)});
  }
  lb::Picker* picker = lb.source_ip_picker != nullptr ? lb.source_ip_picker.get() : lb.picker.get();
  const int64_t max_connections = lb.config().circuit_breaker.max_connections;
  int failed_before = tried_count_;  // backends that failed this client on earlier bindings
  *why = UdpDrop::NoBackend;
  for (int passed_over = 0; passed_over <= 2 * kMaxTried; ++passed_over) {
    ctx.tried_count = static_cast<size_t>(tried_count_);
    lb::BackendState* backend = picker != nullptr ? picker->pick(ctx) : nullptr;
    if (backend == nullptr && tried_count_ > 0 && lb.standby_picker != nullptr)
      backend = lb.standby_picker->pick(ctx);
    if (backend == nullptr && failed_before > 0) {
      // Every other backend was passed over: an earlier failure only steers a client away,
      // it does not exclude a backend (its circuit breaker does that), so they get another
      // chance. The ones passed over in this call stay excluded.
      std::copy(tried_ + failed_before, tried_ + tried_count_, tried_);
      tried_count_ -= failed_before;
      failed_before = 0;
      continue;
    }
    if (backend == nullptr) break;
    const lb::Admission admission = backend->circuit.admit();
    if (admission != lb::Admission::Rejected) {
      if (backend->active_requests.fetch_add(1, std::memory_order_relaxed) < max_connections) {
        if (open(backend, admission, why)) return true;
        if (*why == UdpDrop::Error) break;  // our own shortage: no other backend helps
      } else {
        backend->active_requests.fetch_sub(1, std::memory_order_relaxed);
        backend->circuit.abandon(admission);
        *why = UdpDrop::Overloaded;
      }
    }
    remember(backend);
  }
  worker->releaseHold(&hold_);
  return false;
}

// Connects a socket to `backend` (admitted, counted in active_requests). On failure the
// count is given back and the breaker hears of it unless the failure was ours.
bool UdpSession::open(lb::BackendState* backend, lb::Admission admission, UdpDrop* why) {
  Worker* worker = proxy_->worker();
  const net::SocketAddress& addr = worker->addressOf(backend);
  auto* socket = new uv_udp_t;
  int rc = addr.length == 0 ? UV_EINVAL : uv_udp_init_ex(worker->loop(), socket, addr.family());
  if (rc != 0) {
    delete socket;  // never initialised
  } else {
    socket->data = this;
    rc = uv_udp_connect(socket, addr.get());
    if (rc == 0) rc = uv_udp_recv_start(socket, &UdpSession::onAlloc, &UdpSession::onRecv);
    if (rc != 0) closeSocket(socket);
  }
  if (rc != 0) {
    FLB_LOG(Debug, "lb=%s backend=%s: no socket for a UDP session: %s", proxy_->lb().name.c_str(),
            backend->name().c_str(), uv_strerror(rc));
    backend->active_requests.fetch_sub(1, std::memory_order_relaxed);
    if (isLocalError(rc)) {
      backend->circuit.abandon(admission);
      *why = UdpDrop::Error;
      proxy_->warnDropping("no socket for a new session", rc);
      return false;
    }
    backend->failures_total.fetch_add(1, std::memory_order_relaxed);
    const auto now = static_cast<int64_t>(uv_now(worker->loop()));
    if (backend->circuit.recordFailure(admission, connectFailure(rc),
                                       proxy_->lb().config().circuit_breaker,
                                       now) != lb::CircuitChange::None)
      worker->circuitChanged();
    return false;
  }
  backend->requests_total.fetch_add(1, std::memory_order_relaxed);
  backend->connections.fetch_add(1, std::memory_order_relaxed);
  backend_ = backend;
  slot_ = backend->slot();
  admission_ = admission;
  socket_ = socket;
  bound_at_ = uv_now(worker->loop());
  verdict_ = false;
  replied_ = false;
  return true;
}

void UdpSession::unbind() {
  if (backend_ == nullptr) return;
  if (!verdict_) backend_->circuit.abandon(admission_);  // a trial permit goes back
  backend_->active_requests.fetch_sub(1, std::memory_order_relaxed);
  backend_->connections.fetch_sub(1, std::memory_order_relaxed);
  backend_ = nullptr;
  closeSocket(socket_);
  socket_ = nullptr;
  proxy_->worker()->releaseHold(&hold_);
}

void UdpSession::remember(const lb::BackendState* backend) {
  if (tried_count_ < kMaxTried) tried_[tried_count_++] = backend;
}

// The backend refused a datagram (or is unreachable): the breaker counts a failure, the
// session leaves it, and the datagrams it never answered go to another backend when the
// LB's retries allow (retries.on "refused" / "connect-failure", retries.max, the budget).
void UdpSession::backendFailed(int status) {
  LbRuntime& lb = proxy_->lb();
  Worker* worker = proxy_->worker();
  FLB_LOG(Debug, "lb=%s backend=%s: UDP session failed: %s", lb.name.c_str(),
          backend_->name().c_str(), uv_strerror(status));
  backend_->failures_total.fetch_add(1, std::memory_order_relaxed);
  const auto now = static_cast<int64_t>(uv_now(worker->loop()));
  if (backend_->circuit.recordFailure(admission_, connectFailure(status),
                                      lb.config().circuit_breaker, now) != lb::CircuitChange::None)
    worker->circuitChanged();
  verdict_ = true;
  remember(backend_);
  unbind();
  ++failures_;
  if (replay_.empty()) return;
  if (!mayRetry(status)) {
    dropReplay();
    return;
  }
  worker->countRetry();
  proxy_->shard().retries.fetch_add(1, std::memory_order_relaxed);
  UdpDrop why = UdpDrop::NoBackend;
  if (!bind(&why)) {
    dropReplay();
    return;
  }
  replay();
}

bool UdpSession::mayRetry(int status) {
  const config::Retries& retries = proxy_->lb().config().retries;
  const bool allowed = status == UV_ECONNREFUSED ? retries.on_refused : retries.on_connect_failure;
  return allowed && failures_ <= retries.max && proxy_->lb().retry_budget.tryRetry();
}

// ---- Backend -> client -------------------------------------------------------------------

void UdpSession::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  *buf = static_cast<UdpSession*>(handle->data)->proxy_->worker()->udpBuffer();
}

void UdpSession::onRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                        unsigned flags) {
  auto* self = static_cast<UdpSession*>(handle->data);
  if (nread < 0) {
    if (isBackendError(static_cast<int>(nread))) {
      self->backendFailed(static_cast<int>(nread));
    } else {
      FLB_LOG(Debug, "lb=%s: UDP receive from a backend failed: %s",
              self->proxy_->lb().name.c_str(), uv_strerror(static_cast<int>(nread)));
    }
    return;
  }
  if (addr == nullptr) return;  // nothing more to read for now (an empty datagram has one)
  if ((flags & UV_UDP_PARTIAL) != 0) {
    self->proxy_->drop(UdpDrop::Error);
    return;
  }
  self->fromBackend(buf->base, static_cast<size_t>(nread));
}

void UdpSession::fromBackend(const char* data, size_t len) {
  touch();
  if (!replied_) {
    // The first answer on this binding: the backend works.
    replied_ = true;
    verdict_ = true;
    if (backend_->circuit.recordSuccess(admission_) != lb::CircuitChange::None)
      proxy_->worker()->circuitChanged();
    tried_count_ = 0;
    failures_ = 0;
    dropReplay();
  }
  proxy_->sendToClient(client_, data, len);
}

// Re-armed on every datagram either way; at most once per loop iteration (a burst shares
// one loop time), so a busy session costs no list work per datagram.
void UdpSession::touch() {
  const uint64_t now = uv_now(proxy_->worker()->loop());
  if (now == touched_at_ && idle.armed()) return;
  touched_at_ = now;
  proxy_->idleDeadlines().arm(&idle, now);
}

// ---- Replay ------------------------------------------------------------------------------

void UdpSession::keepForReplay(const char* data, size_t len) {
  if (replied_ || replay_closed_) return;
  if (uv_now(proxy_->worker()->loop()) - bound_at_ > kReplayWindowMs) {
    dropReplay();  // a backend that neither answers nor refuses: a one-way protocol
    replay_closed_ = true;
    return;
  }
  const size_t need = 2 + len;
  if (replay_.size() + need > kMaxReplayBytes || !proxy_->reserveReplay(need)) {
    replay_closed_ = true;  // what was kept stays: a prefix of what was sent, in order
    return;
  }
  const uint16_t n = static_cast<uint16_t>(len);
  replay_.append(reinterpret_cast<const char*>(&n), 2);
  replay_.append(data, len);
}

// Sends what the failed binding never answered to the new one (bound just now).
void UdpSession::replay() {
  std::string pending;
  pending.swap(replay_);
  proxy_->releaseReplay(pending.size());
  replay_closed_ = false;
  bool failed = false;
  int status = 0;
  for (size_t at = 0; at + 2 <= pending.size();) {
    uint16_t n = 0;
    std::memcpy(&n, pending.data() + at, 2);
    const char* data = pending.data() + at + 2;
    at += 2 + n;
    if (failed) {
      keepForReplay(data, n);  // for the backend after this one
      continue;
    }
    status = sendToBackend(data, n);
    if (status >= 0) continue;
    if (!isBackendError(status)) {
      proxy_->drop(UdpDrop::Error);
      continue;
    }
    // This backend refused an earlier one already (loopback reports it at once).
    failed = true;
    keepForReplay(data, n);
  }
  if (failed) backendFailed(status);  // bounded by retries.max
}

void UdpSession::dropReplay() {
  proxy_->releaseReplay(replay_.size());
  replay_.clear();
  replay_.shrink_to_fit();
}

}  // namespace fiberlb::proxy
