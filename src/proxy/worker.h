#pragma once
// A worker thread: its own libuv loop, its own SO_REUSEPORT listeners, sessions, upstream
// connection pools and timeout sweep. It shares nothing with other workers but the
// BackendState atomics; the control loop reaches it only through publish() / shutdown().

#include <uv.h>

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "src/net/buffer_pool.h"
#include "src/proxy/client_session.h"
#include "src/proxy/lb_runtime.h"
#include "src/proxy/worker_update.h"

namespace fiberlb::proxy {

class UdpProxy;
class UpstreamConn;

// A published update plus the number of exchanges still routing with it. Exchanges hold
// the update they picked their backend from, so BackendStates and configs it points to
// stay alive until the last such exchange ends — without a shared refcount per request.
struct SnapshotHold {
  std::shared_ptr<const WorkerUpdate> update;
  int64_t exchanges = 0;
};

// Per-worker counters, summed by the control loop (relaxed atomics, single writer).
struct WorkerStats {
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<int64_t> sessions{0};
};

class Worker {
 public:
  explicit Worker(int index);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Before start(): called (on this worker's thread) when a request moved a backend's circuit
  // breaker, so that the control loop re-routes without waiting for anything else.
  void onCircuitChange(std::function<void()> notify) { circuit_notify_ = std::move(notify); }

  // Any thread.
  void start();
  void publish(std::shared_ptr<const WorkerUpdate> update);
  void shutdown();  // stop accepting; exit the loop once every session has ended
  void join();
  bool finished() const { return finished_.load(); }
  const WorkerStats& stats() const { return stats_; }

  // Worker thread only.
  int index() const { return index_; }
  uv_loop_t* loop() { return &loop_; }
  net::BufferPool& buffers() { return buffers_; }
  bool draining() const { return draining_; }
  const net::SocketAddress& addressOf(const lb::BackendState* backend) const;
  // How to speak TLS to `backend` (a null context: plain TCP).
  const BackendTls& tlsOf(const lb::BackendState* backend) const;
  UpstreamConn* takeIdle(lb::BackendState* backend);
  void putIdle(UpstreamConn* up);
  void discardIdle(UpstreamConn* up);  // an idle connection closed or misbehaved
  void holdCurrent(SnapshotHold** hold);
  void releaseHold(SnapshotHold** hold);
  void sessionOpened(ClientSession* s);
  void sessionClosed(ClientSession* s);  // also forgets a pending resumeLater()
  // Calls in->resumeBufferedInput() on the next loop iteration (once, however often asked).
  void resumeLater(BufferedInput* in);
  // `in` is going away: forget a pending resumeLater(). Cheap when none is pending.
  void cancelResume(BufferedInput* in) {
    if (in->resume_pending) forgetResume(in);
  }
  // Where TLS sessions receive ciphertext: it is fed to OpenSSL (copied) within the read
  // callback, so one buffer serves every connection of the worker.
  uv_buf_t cipherBuffer() {
    return uv_buf_init(cipher_buffer_.get(), net::BufferPool::kBufferSize);
  }
  // Where UDP sockets receive: every datagram is relayed (copied by the kernel) or dropped
  // within the receive callback, so one buffer serves them all. Room for a recvmmsg batch
  // of kUdpBatch datagrams of up to 64 KiB; allocated when the first UDP LB opens.
  uv_buf_t udpBuffer() {
    return uv_buf_init(udp_buffer_.get(), static_cast<unsigned>(kUdpBufferSize));
  }
  void countRetry() { stats_.retries.fetch_add(1, std::memory_order_relaxed); }
  void circuitChanged() {
    if (circuit_notify_) circuit_notify_();
  }
  // Writes a fresh X-Request-Id into out (≥ 33 bytes); returns its length.
  size_t nextRequestId(char* out);

 private:
  struct IdlePool {
    UpstreamConn* head = nullptr;
    size_t count = 0;
  };
  static constexpr size_t kMaxIdlePerBackend = 256;
  static constexpr size_t kUdpBatch = 16;
  static constexpr size_t kUdpBufferSize = kUdpBatch * 64 * 1024;

  void run();
  static void onAsync(uv_async_t* handle);
  static void onSweep(uv_timer_t* handle);
  static void onConnection(uv_stream_t* server, int status);
  static void onResume(uv_idle_t* handle);
  void forgetResume(BufferedInput* in);
  void applyUpdate(const std::shared_ptr<const WorkerUpdate>& update);
  void applyLb(size_t index, const WorkerUpdate& update);
  uv_tcp_t* openListener(const ListenerSpec& spec, const std::string& lb_name);
  static void closeListener(uv_tcp_t* tcp);
  void adoptUdp(const ListenerSpec& spec, LbRuntime* rt,
                std::unordered_map<std::string, UdpProxy*>* next);
  void retireLb(LbRuntime* rt);
  void closeIdleOfRemovedBackends();
  void sweep();
  void beginDrain();
  void maybeFinish();
  void unlinkIdle(UpstreamConn* up);

  const int index_;
  std::thread thread_;
  uv_loop_t loop_{};
  uv_async_t async_{};
  uv_timer_t sweep_timer_{};
  uv_idle_t resume_idle_{};
  net::BufferPool buffers_;
  std::unique_ptr<char[]> cipher_buffer_{new char[net::BufferPool::kBufferSize]};
  std::vector<BufferedInput*> resume_;    // waiting for onResume
  std::vector<BufferedInput*> resuming_;  // the ones onResume is calling now
  WorkerStats stats_;
  std::function<void()> circuit_notify_;

  // Mailbox: written by any thread, read on the loop. Only the newest update matters.
  std::mutex mailbox_mutex_;
  std::shared_ptr<const WorkerUpdate> mailbox_;
  std::atomic<bool> shutdown_requested_{false};
  std::atomic<bool> finished_{false};

  std::list<SnapshotHold> holds_;  // back() is the current update
  std::unordered_map<std::string, std::unique_ptr<LbRuntime>> lbs_;
  std::vector<std::unique_ptr<LbRuntime>> retired_;       // removed LBs with sessions left
  std::vector<IdlePool> idle_;                            // by BackendState::slot()
  std::vector<bool> live_slots_;                          // slots of the current snapshot
  std::unordered_map<std::string, uv_tcp_t*> listeners_;  // by ListenerSpec::key
  std::unordered_map<std::string, UdpProxy*> udp_;        // by ListenerSpec::key (udp LBs)
  std::unique_ptr<char[]> udp_buffer_;                    // see udpBuffer()
  ClientSession* sessions_ = nullptr;                     // intrusive list
  bool draining_ = false;
  bool closed_ = false;
  uint64_t request_seed_ = 0;
  uint64_t request_counter_ = 0;
};

}  // namespace fiberlb::proxy
