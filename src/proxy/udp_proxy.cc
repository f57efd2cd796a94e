#include "src/proxy/udp_proxy.h"

#include <cmath>
#include <random>

#include "src/proxy/lb_runtime.h"
#include "src/proxy/worker.h"
#include "src/proxy/worker_update.h"
#include "src/util/log.h"

namespace fiberlb::proxy {
namespace {

uint64_t randomSeed() {
  std::random_device rd;
  return uint64_t{rd()} << 32 | rd();
}

}  // namespace

UdpProxy::UdpProxy(Worker* worker) : worker_(worker), sessions_(0, UdpPeerHash{randomSeed()}) {
  socket_.data = this;
}

UdpProxy* UdpProxy::open(Worker* worker, const ListenerSpec& spec, const std::string& lb_name) {
  const auto index = static_cast<size_t>(worker->index());
  if (index >= spec.fds.size()) return nullptr;
  auto* proxy = new UdpProxy(worker);
  // recvmmsg: one system call reads up to a batch of datagrams (Worker::udpBuffer's size).
  int rc = uv_udp_init_ex(worker->loop(), &proxy->socket_, AF_UNSPEC | UV_UDP_RECVMMSG);
  if (rc != 0) {
    FLB_LOG(Error, "worker %d: lb=%s: %s", worker->index(), lb_name.c_str(), uv_strerror(rc));
    delete proxy;
    return nullptr;
  }
  rc = uv_udp_open(&proxy->socket_, spec.fds[index]);
  if (rc == 0) rc = uv_udp_recv_start(&proxy->socket_, &UdpProxy::onAlloc, &UdpProxy::onRecv);
  if (rc != 0) {
    FLB_LOG(Error, "worker %d: cannot receive on %s for lb=%s: %s", worker->index(),
            spec.bound.str().c_str(), lb_name.c_str(), uv_strerror(rc));
    proxy->close();
    return nullptr;
  }
  return proxy;
}

void UdpProxy::update(LbRuntime* lb) {
  lb_ = lb;
  setStats(lb->stats);
  const double idle_ms = std::ceil(lb->config().udp_session_idle_sec * 1000);
  idle_.setTimeout(idle_ms >= 1 ? static_cast<uint64_t>(idle_ms) : 1);
  // Eligibility, not membership of the routing region's endpoints: a manual switch of the
  // active region leaves established sessions where they are, as it leaves TCP connections.
  const lb::LbSnapshot& snap = *lb->snap;
  serving_.clear();
  for (size_t i = 0; i < snap.backends.size(); ++i) {
    const bool eligible = i < snap.eligible.size() && snap.eligible[i] != 0;
    const uint32_t slot = snap.backends[i]->slot();
    if (slot >= serving_.size()) serving_.resize(slot + 1, 0);
    serving_[slot] = eligible ? 1 : 0;
  }
}

// A renamed LB keeps the socket and its sessions but counts into its own stats from now on:
// the open sessions move with the gauge.
void UdpProxy::setStats(const lb::LbStats::Ptr& stats) {
  if (stats == stats_) return;
  const auto open = static_cast<int64_t>(sessions_.size());
  if (shard_ != nullptr) shard_->udp_sessions.fetch_sub(open, std::memory_order_relaxed);
  stats_ = stats;
  shard_ = &stats_->shard(worker_->index());
  shard_->udp_sessions.fetch_add(open, std::memory_order_relaxed);
}

void UdpProxy::sweep(uint64_t now_ms) {
  size_t expired = 0;
  while (net::Deadline* d = idle_.popExpired(now_ms)) {
    const UdpPeerKey key = static_cast<UdpSession*>(d->owner)->key();  // a copy: erase frees it
    sessions_.erase(key);
    ++expired;
  }
  if (expired > 0)
    shard_->udp_sessions.fetch_sub(static_cast<int64_t>(expired), std::memory_order_relaxed);
}

void UdpProxy::close() {
  if (shard_ != nullptr)
    shard_->udp_sessions.fetch_sub(static_cast<int64_t>(sessions_.size()),
                                   std::memory_order_relaxed);
  sessions_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&socket_),
           [](uv_handle_t* h) { delete static_cast<UdpProxy*>(h->data); });
}

void UdpProxy::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  *buf = static_cast<UdpProxy*>(handle->data)->worker_->udpBuffer();
}

void UdpProxy::onRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                      unsigned flags) {
  auto* self = static_cast<UdpProxy*>(handle->data);
  if (nread < 0) {
    FLB_LOG(Debug, "lb=%s: receive failed: %s", self->lb_->name.c_str(),
            uv_strerror(static_cast<int>(nread)));
    return;
  }
  // No address: nothing more to read for now, or the end of a recvmmsg batch.
  if (addr == nullptr) return;
  if ((flags & UV_UDP_PARTIAL) != 0) {  // cannot happen with 64 KiB chunks; never relay a part
    self->drop(UdpDrop::Error);
    return;
  }
  self->fromClient(addr, buf->base, static_cast<size_t>(nread));
}

void UdpProxy::fromClient(const sockaddr* addr, const char* data, size_t len) {
  shard_->udp_datagrams_in.fetch_add(1, std::memory_order_relaxed);
  shard_->udp_bytes_in.fetch_add(len, std::memory_order_relaxed);
  UdpPeer peer;
  UdpPeerKey key;
  if (!readPeer(addr, &peer, &key)) return;
  auto [it, inserted] = sessions_.try_emplace(key);
  if (!inserted) {
    it->second->fromClient(data, len);
    return;
  }
  if (sessions_.size() > kMaxSessions) {
    sessions_.erase(it);
    drop(UdpDrop::SessionLimit);
    warnDropping("the worker's session table is full (UdpProxy::kMaxSessions) for new clients", 0);
    return;
  }
  it->second = std::make_unique<UdpSession>(this, peer, key);
  lb_->retry_budget.onRequest();
  UdpSession* session = it->second.get();
  session->fromClient(data, len);
  if (!session->bound()) {  // no backend took the first datagram (counted): no session
    sessions_.erase(key);
    return;
  }
  shard_->udp_sessions_opened.fetch_add(1, std::memory_order_relaxed);
  shard_->udp_sessions.fetch_add(1, std::memory_order_relaxed);
}

void UdpProxy::sendToClient(const UdpPeer& client, const char* data, size_t len) {
  uv_buf_t buf = uv_buf_init(const_cast<char*>(data), static_cast<unsigned>(len));
  // Never queued: a datagram the kernel cannot take now is dropped, as the kernel itself
  // drops what does not fit a receive buffer.
  if (const int rc = uv_udp_try_send(&socket_, &buf, 1, &client.sa); rc < 0) {
    drop(UdpDrop::Error);
    warnDropping("a reply could not be sent to its client", rc);
    return;
  }
  shard_->udp_datagrams_out.fetch_add(1, std::memory_order_relaxed);
  shard_->udp_bytes_out.fetch_add(len, std::memory_order_relaxed);
}

void UdpProxy::drop(UdpDrop why) {
  std::atomic<uint64_t>* counter = &shard_->udp_dropped_error;
  switch (why) {
    case UdpDrop::SessionLimit:
      counter = &shard_->udp_dropped_session_limit;
      break;
    case UdpDrop::NoBackend:
      counter = &shard_->udp_dropped_no_backend;
      break;
    case UdpDrop::Overloaded:
      counter = &shard_->udp_dropped_overloaded;
      break;
    case UdpDrop::Error:
      break;
  }
  counter->fetch_add(1, std::memory_order_relaxed);
}

void UdpProxy::warnDropping(const char* why, int status) {
  const uint64_t now = uv_now(worker_->loop());
  if (warned_ && now - warned_at_ms_ < kWarnIntervalMs) return;
  warned_ = true;
  warned_at_ms_ = now;
  FLB_LOG(Warn,
          "lb=%s worker %d: dropping UDP datagrams: %s%s%s (counted in "
          "fiberlb_udp_dropped_datagrams_total)",
          lb_->name.c_str(), worker_->index(), why, status != 0 ? ": " : "",
          status != 0 ? uv_strerror(status) : "");
}

bool UdpProxy::reserveReplay(size_t bytes) {
  if (replay_bytes_ + bytes > kReplayBudget) return false;
  replay_bytes_ += bytes;
  return true;
}

}  // namespace fiberlb::proxy
