// The data path's metrics counters (SPEC §8): one real proxy::Worker on loopback, real test
// backends, and the LbStats / BackendState counters read directly (not through /metrics).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "lb/backend_registry.h"
#include "lb/cluster_snapshot.h"
#include "lb/snapshot_builder.h"
#include "src/net/address.h"
#include "src/net/listen_socket.h"
#include "src/proxy/worker.h"
#include "src/proxy/worker_update.h"
#include "tests/support/deadline.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"

namespace fiberlb::testing {
namespace {

// The Worker runs inside this process: as in fiberlb's main(), a peer closing mid-write must
// be an error return on the write, not a SIGPIPE that kills the test binary.
[[maybe_unused]] const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

uint64_t get(const std::atomic<uint64_t>& a) {
  return a.load();
}
int64_t get(const std::atomic<int64_t>& a) {
  return a.load();
}

config::Backend backendOn(std::string name, int port) {
  config::Backend b;
  b.name = std::move(name);
  b.address = "127.0.0.1";
  b.port = port;
  b.region = "default";
  return b;
}

// One worker (id 3, to exercise the shard index) running one HTTP LB.
class ProxyHarness {
 public:
  explicit ProxyHarness(std::vector<config::Backend> backends,
                        const std::function<void(config::LoadBalancer&)>& tweak = {}) {
    auto cfg = std::make_shared<config::Config>();
    config::LoadBalancer lb;
    lb.name = "web";
    lb.backends = std::move(backends);
    if (tweak) tweak(lb);
    cfg->loadbalancers.push_back(lb);
    config_ = cfg;
    net::SocketAddress any;
    std::string error;
    EXPECT_TRUE(net::resolve("127.0.0.1", 0, &any, &error)) << error;
    net::ListenResult listen = net::openListeners(any, kWorker + 1, true);
    EXPECT_TRUE(listen.error.empty()) << listen.error;
    spec_.key = "http 127.0.0.1:0";
    spec_.fds = listen.fds;
    spec_.bound = listen.bound;
    for (size_t i = 0; i < listen.fds.size(); ++i)
      if (i != kWorker) ::close(listen.fds[i]);
    worker_ = std::make_unique<proxy::Worker>(kWorker);
    publish();
    worker_->start();
  }
  ~ProxyHarness() {
    worker_->shutdown();
    worker_->join();
  }

  // Publishes a fresh snapshot of the same config (a reload that keeps the LB).
  void publish() {
    auto update = std::make_shared<proxy::WorkerUpdate>();
    update->snapshot = lb::buildSnapshot(config_, registry_, ++generation_);
    update->listeners = {spec_};
    update->addresses.resize(registry_.slotCount());
    for (const lb::BackendState::Ptr& b : update->snapshot->lbs[0].backends) {
      std::string error;
      EXPECT_TRUE(net::resolve(b->address(), b->port(), &update->addresses[b->slot()], &error));
    }
    snapshot_ = update->snapshot;
    worker_->publish(update);
  }

  uint16_t port() const { return static_cast<uint16_t>(spec_.bound.port()); }
  lb::LbStats& stats() { return *snapshot_->lbs[0].stats; }
  lb::LbStatsShard& shard() { return stats().shard(kWorker); }
  lb::BackendState& backend(size_t i) { return *snapshot_->lbs[0].backends[i]; }
  const proxy::WorkerStats& workerStats() const { return worker_->stats(); }

  // Polls: counters written after the worker queued the bytes a client just read.
  bool eventually(const std::function<bool()>& cond) { return pollUntil(cond, deadlineIn(3000)); }

 private:
  static constexpr int kWorker = 3;
  std::shared_ptr<const config::Config> config_;
  lb::BackendRegistry registry_;
  uint64_t generation_ = 0;
  proxy::ListenerSpec spec_;
  std::shared_ptr<const lb::ClusterSnapshot> snapshot_;
  std::unique_ptr<proxy::Worker> worker_;
};

uint64_t otherShardsLatencyCount(lb::LbStats& stats, size_t mine) {
  uint64_t n = 0;
  for (size_t i = 0; i < lb::LbStats::kShards; ++i)
    if (i != mine) n += stats.shards()[i].latency_count.load();
  return n;
}

// A backend that answers every request with the raw bytes given, followed by `filler` bytes
// of 'x' (one connection at a time).
class RawBackend {
 public:
  explicit RawBackend(std::string answer, size_t filler = 0)
      : answer_(std::move(answer)), filler_(filler) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~RawBackend() {
    stopping_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    int c = conn_.load();
    if (c >= 0) ::shutdown(c, SHUT_RDWR);  // unblocks a write the proxy no longer reads
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void serve() {
    while (!stopping_) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      conn_ = c;
      std::string got;
      char buf[4096];
      while (got.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        got.append(buf, static_cast<size_t>(n));
      }
      bool ok = ::write(c, answer_.data(), answer_.size()) > 0;
      static const std::string kFiller(65536, 'x');
      for (size_t left = filler_; ok && left > 0 && !stopping_;) {
        ssize_t n = ::write(c, kFiller.data(), std::min(left, kFiller.size()));
        ok = n > 0;
        if (ok) left -= static_cast<size_t>(n);
      }
      ::shutdown(c, SHUT_WR);
      while (::read(c, buf, sizeof buf) > 0) {
      }
      conn_ = -1;
      ::close(c);
    }
  }

  std::string answer_;
  size_t filler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> conn_{-1};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

TEST(WorkerStatsTest, KeepAliveRequestsAndConnectionGauge) {
  TestBackend b("b1");
  ProxyHarness h({backendOn("b1", b.port())});
  HttpClient c;
  ASSERT_TRUE(c.connect(h.port(), deadlineIn(2000)));
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().downstream_connections) == 1; }));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(getRequest("/"), deadlineIn(2000)));
    EXPECT_EQ(c.readResponse(deadlineIn(2000)).status, 200);
  }
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 3; }));
  EXPECT_EQ(get(h.backend(0).responses_by_class[1]), 3u);
  EXPECT_EQ(get(h.backend(0).requests_total), 3u);
  EXPECT_EQ(get(h.backend(0).failures_total), 0u);
  uint64_t buckets = 0;
  for (const auto& bucket : h.shard().latency_buckets)
    buckets += bucket.load();
  EXPECT_EQ(buckets, 3u);
  EXPECT_GT(get(h.shard().latency_sum_us), 0u);
  EXPECT_EQ(otherShardsLatencyCount(h.stats(), 3), 0u);
  c.close();
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().downstream_connections) == 0; }));
}

TEST(WorkerStatsTest, LatencyIncludesBackendDelay) {
  TestBackend b("b1", Behaviour{.delay = milliseconds(30)});
  ProxyHarness h({backendOn("b1", b.port())});
  EXPECT_EQ(fetch(h.port(), getRequest("/"), deadlineIn(3000)).status, 200);
  ASSERT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 1; }));
  EXPECT_GE(get(h.shard().latency_sum_us), 30000u);
  EXPECT_LT(get(h.shard().latency_sum_us), 1000000u);
  // (0.025, 0.05] is bucket 6.
  EXPECT_EQ(get(h.shard().latency_buckets[6]), 1u);
}

TEST(WorkerStatsTest, LocalErrorOnSecondKeepAliveRequestIsSentAndCounted) {
  TestBackend b("b1");
  ProxyHarness h({backendOn("b1", b.port())});
  HttpClient c;
  ASSERT_TRUE(c.connect(h.port(), deadlineIn(2000)));
  ASSERT_TRUE(c.send(getRequest("/"), deadlineIn(2000)));
  EXPECT_EQ(c.readResponse(deadlineIn(2000)).status, 200);
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                     deadlineIn(2000)));
  EXPECT_EQ(c.readResponse(deadlineIn(2000)).status, 400);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 2; }));
  EXPECT_EQ(get(h.shard().local_responses[3]), 1u);
  EXPECT_EQ(get(h.backend(0).responses_by_class[1]), 1u);
}

TEST(WorkerStatsTest, HeadersTooLargeAndBadRequestAreLocalResponses) {
  TestBackend b("b1");
  ProxyHarness h({backendOn("b1", b.port())});
  EXPECT_EQ(
      fetch(h.port(), "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(70000, 'a') + "\r\n\r\n",
            deadlineIn(3000))
          .status,
      431);
  EXPECT_EQ(fetch(h.port(), "BLAH\r\n\r\n", deadlineIn(3000)).status, 400);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 2; }));
  EXPECT_EQ(get(h.shard().local_responses[3]), 2u);
  EXPECT_EQ(get(h.backend(0).requests_total), 0u);
}

TEST(WorkerStatsTest, HeadTimeoutIs408WithItsLatency) {
  TestBackend b("b1");
  ProxyHarness h({backendOn("b1", b.port())},
                 [](config::LoadBalancer& lb) { lb.timeouts.client_header_ms = 200; });
  HttpClient c;
  ASSERT_TRUE(c.connect(h.port(), deadlineIn(2000)));
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n", deadlineIn(2000)));
  EXPECT_EQ(c.readResponse(deadlineIn(3000)).status, 408);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 1; }));
  EXPECT_EQ(get(h.shard().local_responses[3]), 1u);
  EXPECT_GE(get(h.shard().latency_sum_us), 150000u);
}

TEST(WorkerStatsTest, RetriesOnAnotherBackendAreCounted) {
  TestBackend good("good");
  ProxyHarness h({backendOn("dead", refusingPort()), backendOn("good", good.port())});
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(fetch(h.port(), getRequest("/"), deadlineIn(3000)).status, 200);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 4; }));
  uint64_t dead_failures = get(h.backend(0).failures_total);
  EXPECT_GE(dead_failures, 1u);
  EXPECT_EQ(get(h.shard().retries), dead_failures);
  EXPECT_EQ(h.workerStats().retries.load(), dead_failures);
  EXPECT_EQ(get(h.backend(1).responses_by_class[1]), 4u);
  EXPECT_EQ(get(h.backend(0).requests_total), dead_failures);
}

TEST(WorkerStatsTest, NothingLeftIs503) {
  ProxyHarness h({backendOn("d1", refusingPort()), backendOn("d2", refusingPort())});
  EXPECT_EQ(fetch(h.port(), getRequest("/"), deadlineIn(3000)).status, 503);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 1; }));
  EXPECT_EQ(get(h.shard().local_responses[4]), 1u);
  EXPECT_EQ(get(h.shard().retries), 1u);  // d1 then d2 (or the other way), then nothing
  EXPECT_EQ(get(h.backend(0).failures_total) + get(h.backend(1).failures_total), 2u);
}

TEST(WorkerStatsTest, ResponseTimeoutIs504AndABackendFailure) {
  TestBackend b("b1", Behaviour{.mode = BackendMode::Hang});
  ProxyHarness h({backendOn("b1", b.port())},
                 [](config::LoadBalancer& lb) { lb.timeouts.upstream_response_ms = 200; });
  EXPECT_EQ(fetch(h.port(), getRequest("/"), deadlineIn(3000)).status, 504);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 1; }));
  EXPECT_EQ(get(h.shard().local_responses[4]), 1u);
  EXPECT_EQ(get(h.backend(0).failures_total), 1u);
  EXPECT_EQ(get(h.backend(0).requests_total), 1u);
  b.stop();
}

TEST(WorkerStatsTest, StalledUploadTimesOutWithoutBlamingTheBackend) {
  TestBackend b("b1");
  ProxyHarness h({backendOn("b1", b.port())},
                 [](config::LoadBalancer& lb) { lb.timeouts.upstream_response_ms = 200; });
  HttpClient c;
  ASSERT_TRUE(c.connect(h.port(), deadlineIn(2000)));
  ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789",
                     deadlineIn(2000)));
  EXPECT_EQ(c.readResponse(deadlineIn(3000)).status, 504);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 1; }));
  EXPECT_EQ(get(h.shard().local_responses[4]), 1u);
  EXPECT_EQ(get(h.backend(0).failures_total), 0u);
}

TEST(WorkerStatsTest, ClientNotReadingTimesOutWithoutBlamingTheBackend) {
  constexpr size_t kBody = size_t{256} << 20;
  RawBackend b("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n", kBody);
  ProxyHarness h({backendOn("b1", b.port())},
                 [](config::LoadBalancer& lb) { lb.timeouts.upstream_response_ms = 300; });
  HttpClient c;
  ASSERT_TRUE(c.connect(h.port(), deadlineIn(2000)));
  ASSERT_TRUE(c.send(getRequest("/"), deadlineIn(2000)));
  ASSERT_TRUE(h.eventually([&] { return get(h.shard().downstream_connections) == 1; }));
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().downstream_connections) == 0; }));
  EXPECT_EQ(get(h.shard().latency_count), 1u);  // answered in part
  EXPECT_EQ(get(h.backend(0).failures_total), 0u);
  EXPECT_EQ(get(h.backend(0).responses_by_class[1]), 0u);
}

TEST(WorkerStatsTest, InterimResponsesDoNotCount) {
  RawBackend b("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
  ProxyHarness h({backendOn("b1", b.port())});
  EXPECT_EQ(fetch(h.port(), getRequest("/"), deadlineIn(3000)).status, 204);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 1; }));
  EXPECT_EQ(get(h.backend(0).responses_by_class[0]), 0u);
  EXPECT_EQ(get(h.backend(0).responses_by_class[1]), 1u);
}

TEST(WorkerStatsTest, UpgradeCountsAs1xxWhenThe101GoesOut) {
  TestBackend b("b1", Behaviour{.mode = BackendMode::UpgradeEcho});
  ProxyHarness h({backendOn("b1", b.port())});
  HttpClient c;
  ASSERT_TRUE(c.connect(h.port(), deadlineIn(2000)));
  ASSERT_TRUE(
      c.send(getRequest("/ws", "Connection: Upgrade\r\nUpgrade: websocket\r\n"), deadlineIn(2000)));
  EXPECT_EQ(c.readResponse(deadlineIn(2000), true).status, 101);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 1; }));
  EXPECT_EQ(get(h.backend(0).responses_by_class[0]), 1u);
  ASSERT_TRUE(c.send("ping", deadlineIn(2000)));
  EXPECT_EQ(c.readBytes(4, deadlineIn(2000)).value_or(""), "ping");
  c.close();
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().downstream_connections) == 0; }));
  EXPECT_EQ(get(h.shard().latency_count), 1u);  // the tunnel's end is not a second answer
}

TEST(WorkerStatsTest, ClientLeavingMidResponseCountsLatencyNotAResponse) {
  constexpr size_t kBody = size_t{256} << 20;
  RawBackend b("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBody) + "\r\n\r\n", kBody);
  ProxyHarness h({backendOn("b1", b.port())});
  {
    HttpClient c;
    ASSERT_TRUE(c.connect(h.port(), deadlineIn(2000)));
    ASSERT_TRUE(c.send(getRequest("/"), deadlineIn(2000)));
    ASSERT_TRUE(c.waitReadable(deadlineIn(2000)));
  }
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().downstream_connections) == 0; }));
  EXPECT_EQ(get(h.shard().latency_count), 1u);
  EXPECT_EQ(get(h.backend(0).responses_by_class[1]), 0u);
}

TEST(WorkerStatsTest, ReloadKeepsCountingIntoTheSameObject) {
  TestBackend b("b1");
  ProxyHarness h({backendOn("b1", b.port())});
  lb::LbStats* before = &h.stats();
  HttpClient c;
  ASSERT_TRUE(c.connect(h.port(), deadlineIn(2000)));
  ASSERT_TRUE(c.send(getRequest("/"), deadlineIn(2000)));
  EXPECT_EQ(c.readResponse(deadlineIn(2000)).status, 200);
  h.publish();
  EXPECT_EQ(&h.stats(), before);
  ASSERT_TRUE(c.send(getRequest("/"), deadlineIn(2000)));
  EXPECT_EQ(c.readResponse(deadlineIn(2000)).status, 200);
  EXPECT_EQ(fetch(h.port(), getRequest("/"), deadlineIn(3000)).status, 200);
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().latency_count) == 3; }));
  c.close();
  EXPECT_TRUE(h.eventually([&] { return get(h.shard().downstream_connections) == 0; }));
}

}  // namespace
}  // namespace fiberlb::testing
