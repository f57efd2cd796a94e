#pragma once
// Per-LB traffic counters that outlive snapshots and reloads (like BackendState): the request
// latency histogram, downstream connections, retries and the responses fiberlb produced
// itself. Workers write, the admin API's /metrics reads.
//
// Written on the request path, so each worker writes its own cache-line-aligned shard
// (index = worker id modulo kShards) and never contends with another worker; the reader
// sums the shards. Relaxed atomics: a scrape may see a request half-counted, never a torn
// value.

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace fiberlb::lb {

// Upper bounds (seconds) of fiberlb_request_duration_seconds; +Inf is implicit.
inline constexpr std::array<double, 14> kLatencyBucketsSec = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

struct alignas(64) LbStatsShard {
  // Requests by latency bucket (last entry = +Inf), their count and total microseconds.
  std::array<std::atomic<uint64_t>, kLatencyBucketsSec.size() + 1> latency_buckets{};
  std::atomic<uint64_t> latency_count{0};
  std::atomic<uint64_t> latency_sum_us{0};
  std::atomic<int64_t> downstream_connections{0};  // open now (may go negative per shard)
  std::atomic<uint64_t> retries{0};
  // Responses fiberlb generated without a backend (400, 408, 431, 503, ...) by class 1xx..5xx.
  std::array<std::atomic<uint64_t>, 5> local_responses{};
  // TLS listeners: handshakes completed (full or resuming a session) and failed.
  std::atomic<uint64_t> tls_handshakes_full{0};
  std::atomic<uint64_t> tls_handshakes_resumed{0};
  std::atomic<uint64_t> tls_handshakes_failed{0};
  // L4 (tcp) listeners: connections relayed to a backend, and their bytes each way.
  std::atomic<uint64_t> l4_connections{0};
  std::atomic<uint64_t> l4_bytes_in{0};   // client -> backend
  std::atomic<uint64_t> l4_bytes_out{0};  // backend -> client
  // UDP listeners (SPEC §6): datagrams and their bytes received from clients (dropped ones
  // included) and relayed back to them, client sessions (a client address bound to a
  // backend) opened and open now, and datagrams dropped, by reason: the worker's session
  // table was full, no backend was eligible, every backend was at max_connections, or a
  // socket error (no socket for a new session, a send the kernel refused).
  std::atomic<uint64_t> udp_datagrams_in{0};
  std::atomic<uint64_t> udp_datagrams_out{0};
  std::atomic<uint64_t> udp_bytes_in{0};
  std::atomic<uint64_t> udp_bytes_out{0};
  std::atomic<uint64_t> udp_sessions_opened{0};
  std::atomic<int64_t> udp_sessions{0};  // open now
  std::atomic<uint64_t> udp_dropped_session_limit{0};
  std::atomic<uint64_t> udp_dropped_no_backend{0};
  std::atomic<uint64_t> udp_dropped_overloaded{0};
  std::atomic<uint64_t> udp_dropped_error{0};
};

class LbStats {
 public:
  using Ptr = std::shared_ptr<LbStats>;
  static constexpr size_t kShards = 16;

  explicit LbStats(std::string name) : name_(std::move(name)) {}
  const std::string& name() const { return name_; }

  // Upstream connects in progress across all workers (circuit_breaker.max_pending_requests).
  // Written only when a new upstream connection is opened, so it shares no hot cache line.
  alignas(64) std::atomic<int64_t> pending_connects{0};

  LbStatsShard& shard(int worker_id) { return shards_[static_cast<size_t>(worker_id) % kShards]; }
  const std::array<LbStatsShard, kShards>& shards() const { return shards_; }

  // Records one request's total duration in `shard`. Worker threads.
  static void observeLatency(LbStatsShard& shard, uint64_t micros) {
    size_t i = 0;
    while (i < kLatencyBucketsSec.size() &&
           static_cast<double>(micros) > kLatencyBucketsSec[i] * 1e6)
      ++i;
    shard.latency_buckets[i].fetch_add(1, std::memory_order_relaxed);
    shard.latency_count.fetch_add(1, std::memory_order_relaxed);
    shard.latency_sum_us.fetch_add(micros, std::memory_order_relaxed);
  }

 private:
  const std::string name_;
  std::array<LbStatsShard, kShards> shards_{};
};

}  // namespace fiberlb::lb
