// The circuit breaker (SPEC §3 circuit_breaker, §4, §8) through the real binary: real traffic
// to a backend that answers 500, resets, hangs or refuses opens its circuit after
// failure_threshold consecutive failures, after which it receives no more requests; after
// recovery_timeout_sec one trial request decides between closing and re-opening; the admin
// API, the metrics, the explain endpoint and the log tell the operator; and a region whose
// backends all have open circuits fails over without any active health check.

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/admin_json.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

constexpr int kThreshold = 3;

// One HTTP LB "web" over `backends` whose circuits open after kThreshold consecutive failures
// and admit one trial request `recovery_sec` later. No active health checks: the circuit is
// the only thing that can take a backend out.
FiberlbConfig breakerConfig(const std::vector<BackendConfig>& backends, double recovery_sec) {
  FiberlbConfig config = singleLb(backends);
  config.loadbalancers[0].circuit_breaker = {{"failure_threshold", kThreshold},
                                             {"recovery_timeout_sec", recovery_sec},
                                             {"half_open_max_requests", 1}};
  return config;
}

// The first element of the JSON array `list` whose `key` is `value`; null when none.
json findIn(const json& list, const std::string& key, const std::string& value) {
  if (!list.is_array()) return nullptr;
  for (const json& item : list) {
    if (item.is_object() && item.value(key, "") == value) return item;
  }
  return nullptr;
}

// Backend `name` of LB "web" in GET /api/geo/nodes.
json node(uint16_t admin, const std::string& name) {
  return findIn(adminJson(admin, "/api/geo/nodes"), "node_id", name);
}

// Backend `name` of LB "web" in GET /api/loadbalancers.
json lbBackend(uint16_t admin, const std::string& name) {
  json web = findIn(adminJson(admin, "/api/loadbalancers"), "name", "web");
  return web.is_object() ? findIn(web["backends"], "name", name) : json(nullptr);
}

std::string circuit(uint16_t admin, const std::string& name) {
  json n = node(admin, name);
  return n.is_object() ? n.value("circuit", "<none>") : "<no node>";
}

json explain(uint16_t admin, const std::string& name) {
  return adminJson(admin, "/api/loadbalancers/web/backends/" + name + "/explain");
}

// The first explain reason of `name` that mentions its open circuit ("" when none).
std::string circuitReason(uint16_t admin, const std::string& name) {
  json e = explain(admin, name);
  if (!e.is_object() || !e["reasons"].is_array()) return "";
  for (const json& r : e["reasons"]) {
    if (r.is_string() && r.get<std::string>().find("circuit open") != std::string::npos)
      return r.get<std::string>();
  }
  return "";
}

double circuitMetric(uint16_t admin, const std::string& name) {
  return metricTotal(admin, "fiberlb_circuit_state", {{"lb", "web"}, {"backend", name}});
}

double transitions(uint16_t admin, const std::string& name, const std::string& to) {
  return metricTotal(admin, "fiberlb_circuit_transitions_total",
                     {{"lb", "web"}, {"backend", name}, {"to", to}});
}

double retries(uint16_t admin) {
  return metricTotal(admin, "fiberlb_retries_total", {{"lb", "web"}});
}

void add(TrafficResult& into, const TrafficResult& r) {
  for (const auto& [backend, n] : r.by_backend)
    into.by_backend[backend] += n;
  into.sequence.insert(into.sequence.end(), r.sequence.begin(), r.sequence.end());
  into.failures += r.failures;
  into.errors.insert(into.errors.end(), r.errors.begin(), r.errors.end());
}

// How many of `r`'s failures were described starting with `prefix` ("status 500: ...").
int failuresLike(const TrafficResult& r, const std::string& prefix) {
  int n = 0;
  for (const std::string& e : r.errors)
    n += e.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

// Sends GETs one at a time (each on its own connection) until the admin API shows `name`'s
// circuit `state`; what the clients got. `sent_last_failure` is set to the time just before
// the last request whose response was a failure.
TrafficResult driveUntil(uint16_t port, uint16_t admin, const std::string& name,
                         const std::string& state, Clock::time_point* sent_last_failure = nullptr) {
  TrafficResult all;
  pollUntil(
      [&] {
        const auto sent = Clock::now();
        TrafficResult one = sendRequests(port, 1, deadlineIn(10000));
        if (one.failures > 0 && sent_last_failure != nullptr) *sent_last_failure = sent;
        add(all, one);
        return circuit(admin, name) == state;
      },
      deadlineIn(15000), milliseconds(0));
  return all;
}

// Starts `lb` with `config`, then sends GETs until `name`'s circuit is open (`driven`: what
// the clients got). The admin port, or 0 after a failure, which is reported.
uint16_t startAndOpen(FiberlbProcess& lb, const FiberlbConfig& config, const std::string& name,
                      TrafficResult& driven) {
  ::testing::AssertionResult started = lb.start(config);
  const uint16_t admin = started ? adminPort(lb) : 0;
  if (admin == 0) {
    ADD_FAILURE() << "fiberlb or its admin API did not start: " << started.message();
    return 0;
  }
  driven = driveUntil(lb.port(), admin, name, "open");
  if (circuit(admin, name) != "open") {
    ADD_FAILURE() << name << "'s circuit never opened: " << node(admin, name).dump();
    return 0;
  }
  return admin;
}

// Waits until `name`'s circuit shows `state`.
bool waitForCircuit(uint16_t admin, const std::string& name, const std::string& state) {
  return pollUntil([&] { return circuit(admin, name) == state; }, deadlineIn(10000));
}

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

TEST(CircuitBreaker, OpensAfterConsecutive500sAndTheBackendGetsNoMoreRequests) {
  TestBackend bad("bad", Behaviour{.status = 500});
  TestBackend good1("good1"), good2("good2");
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(
      breakerConfig({{"bad", bad.port()}, {"good1", good1.port()}, {"good2", good2.port()}}, 60)));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  EXPECT_EQ(circuit(admin, "bad"), "closed");
  EXPECT_EQ(circuitMetric(admin, "bad"), 0);

  TrafficResult driven = driveUntil(lb.port(), admin, "bad", "open");
  ASSERT_EQ(circuit(admin, "bad"), "open") << node(admin, "bad").dump();
  EXPECT_EQ(bad.requestCount(), kThreshold) << "the circuit opens at the threshold, not later";
  EXPECT_EQ(driven.failures, kThreshold) << ::testing::PrintToString(driven.errors);
  EXPECT_EQ(failuresLike(driven, "status 500"), kThreshold) << "a backend's 500 passes through";

  // What an operator sees (eligibility follows the circuit with the next snapshot).
  EXPECT_TRUE(pollUntil([&] { return node(admin, "bad").value("eligible", true) == false; },
                        deadlineIn(5000)))
      << node(admin, "bad").dump();
  json n = node(admin, "bad");
  EXPECT_GE(n.value("consecutive_failures", -1), kThreshold) << n.dump();
  json b = lbBackend(admin, "bad");
  EXPECT_EQ(b.value("circuit", ""), "open") << b.dump();
  EXPECT_GE(b.value("consecutive_failures", -1), kThreshold) << b.dump();
  EXPECT_EQ(lbBackend(admin, "good1").value("circuit", ""), "closed");
  EXPECT_EQ(circuitMetric(admin, "bad"), 1);
  EXPECT_EQ(circuitMetric(admin, "good1"), 0);
  EXPECT_EQ(transitions(admin, "bad", "open"), 1);
  json e = explain(admin, "bad");
  EXPECT_EQ(e.value("eligible", true), false) << e.dump();
  const std::string reason = circuitReason(admin, "bad");
  EXPECT_NE(reason.find("status 500"), std::string::npos) << e.dump();
  auto line = lb.process().waitForLine("circuit open lb=web backend=bad", deadlineIn(5000));
  ASSERT_TRUE(line) << "no 'circuit open' log line";
  EXPECT_NE(line->find(std::to_string(kThreshold) + " consecutive failures"), std::string::npos)
      << *line;
  EXPECT_NE(line->find("status 500"), std::string::npos) << *line;

  // From now on only the good backends answer, and every client gets a 200.
  TrafficResult after = sendRequests(lb.port(), 30, deadlineIn(20000), /*keep_alive=*/false);
  EXPECT_EQ(after.failures, 0) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(after.by_backend["good1"] + after.by_backend["good2"], 30);
  EXPECT_GE(after.by_backend["good1"], 10);
  EXPECT_GE(after.by_backend["good2"], 10);
  EXPECT_EQ(bad.requestCount(), kThreshold);
}

// "bad" answers 500 next to "good"; each test starts with bad's circuit just opened by
// traffic, half-open recovery_timeout_sec = kRecoverySec later.
class CircuitRecovery : public ::testing::Test {
 protected:
  static constexpr double kRecoverySec = 0.5;

  void SetUp() override {
    ASSERT_TRUE(
        lb_.start(breakerConfig({{"bad", bad_.port()}, {"good", good_.port()}}, kRecoverySec)));
    admin_ = adminPort(lb_);
    ASSERT_NE(admin_, 0);
    driveUntil(lb_.port(), admin_, "bad", "open", &sent_last_failure_);
    ASSERT_EQ(circuit(admin_, "bad"), "open");
    ASSERT_EQ(bad_.requestCount(), kThreshold);
  }

  TestBackend bad_{"bad", Behaviour{.status = 500}};
  TestBackend good_{"good"};
  FiberlbProcess lb_;
  uint16_t admin_ = 0;
  Clock::time_point sent_last_failure_;  // just before the request that opened it
};

TEST_F(CircuitRecovery, OneTrialAfterTheTimeoutClosesItWhenTheBackendIsHealthyAgain) {
  // Healthy again, but slow enough that every request of the batch below arrives while the
  // trial is still in flight.
  bad_.setBehaviour(Behaviour{.delay = milliseconds(300)});

  ASSERT_TRUE(waitForCircuit(admin_, "bad", "half_open")) << node(admin_, "bad").dump();
  const int64_t open_ms = msSince(sent_last_failure_);
  EXPECT_GE(open_ms, kRecoverySec * 1000 * 0.9) << "half-open before recovery_timeout_sec";
  EXPECT_LE(open_ms, static_cast<int64_t>((kRecoverySec * 1000 + 1500) * timeoutScale()));
  EXPECT_EQ(circuitMetric(admin_, "bad"), 2);
  EXPECT_EQ(bad_.requestCount(), kThreshold) << "half-open by itself sends nothing";
  EXPECT_TRUE(lb_.process().waitForLine("circuit half_open lb=web backend=bad", deadlineIn(5000)));

  // Batches of concurrent requests until the trial reached the backend (the workers learn
  // about half-open asynchronously): one trial only, everything else went to "good".
  std::atomic<int> failures{0};
  ASSERT_TRUE(pollUntil(
      [&] {
        std::vector<std::thread> clients;
        for (int i = 0; i < 6; ++i) {
          clients.emplace_back(
              [&] { failures += sendRequests(lb_.port(), 1, deadlineIn(10000)).failures; });
        }
        for (auto& c : clients)
          c.join();
        return bad_.requestCount() > kThreshold;
      },
      deadlineIn(10000), milliseconds(0)))
      << "no trial request reached the backend";
  EXPECT_EQ(bad_.requestCount(), kThreshold + 1) << "half_open_max_requests = 1";
  EXPECT_EQ(failures.load(), 0);

  ASSERT_TRUE(waitForCircuit(admin_, "bad", "closed")) << node(admin_, "bad").dump();
  EXPECT_TRUE(lb_.process().waitForLine("circuit closed lb=web backend=bad", deadlineIn(5000)));
  EXPECT_EQ(circuitMetric(admin_, "bad"), 0);
  EXPECT_EQ(transitions(admin_, "bad", "half_open"), 1);
  EXPECT_EQ(transitions(admin_, "bad", "closed"), 1);
  EXPECT_EQ(node(admin_, "bad").value("consecutive_failures", -1), 0);
  EXPECT_TRUE(
      pollUntil([&] { return explain(admin_, "bad").value("eligible", false); }, deadlineIn(5000)))
      << explain(admin_, "bad").dump();

  // Back in rotation.
  bad_.setBehaviour(Behaviour{});
  TrafficResult after = sendRequests(lb_.port(), 20, deadlineIn(20000));
  EXPECT_EQ(after.failures, 0) << ::testing::PrintToString(after.errors);
  EXPECT_GE(after.by_backend["bad"], 8) << ::testing::PrintToString(after.by_backend);
}

TEST_F(CircuitRecovery, AFailedTrialReopensItForAnotherRecoveryPeriod) {
  constexpr int64_t kWindowMs = 2500;
  const double half_opened_before = transitions(admin_, "bad", "half_open");
  const double opened_before = transitions(admin_, "bad", "open");

  // Steady traffic for a few recovery periods: the still-failing backend sees one trial per
  // period, each of which re-opens the circuit.
  TrafficResult window;
  const auto start = Clock::now();
  while (msSince(start) < kWindowMs)
    add(window, sendRequests(lb_.port(), 20, deadlineIn(10000)));
  const int trials = bad_.requestCount() - kThreshold;
  const int half_opened =
      static_cast<int>(transitions(admin_, "bad", "half_open") - half_opened_before);

  EXPECT_GE(trials, 2) << "no trial in " << kWindowMs << " ms with recovery " << kRecoverySec
                       << " s";
  EXPECT_LE(trials, kWindowMs / (kRecoverySec * 1000) + 1) << "more than one request per period";
  EXPECT_TRUE(half_opened == trials || half_opened == trials + 1)
      << half_opened << " half-open transitions for " << trials << " trials";
  EXPECT_TRUE(
      pollUntil([&] { return transitions(admin_, "bad", "open") - opened_before == trials; },
                deadlineIn(5000)))
      << "each failed trial re-opens the circuit: "
      << transitions(admin_, "bad", "open") - opened_before << " re-opens, " << trials << " trials";
  EXPECT_EQ(window.failures, trials) << "the trials' 500s, nothing else failed";
  EXPECT_EQ(failuresLike(window, "status 500"), trials) << ::testing::PrintToString(window.errors);
  EXPECT_GT(window.by_backend["good"], 100);
  EXPECT_TRUE(
      lb_.process().waitForCount("circuit open lb=web backend=bad", 1 + trials, deadlineIn(5000)))
      << lb_.process().output();
}

TEST(CircuitBreaker, OpensOnResetsBeforeTheResponseWhileClientsKeepGetting200) {
  TestBackend reset("reset", Behaviour{.mode = BackendMode::ResetAfterRequest});
  TestBackend good("good");
  FiberlbProcess lb;
  TrafficResult driven;
  const uint16_t admin = startAndOpen(
      lb, breakerConfig({{"reset", reset.port()}, {"good", good.port()}}, 60), "reset", driven);
  ASSERT_NE(admin, 0);
  EXPECT_EQ(driven.failures, 0) << "a reset before the response is retried: "
                                << ::testing::PrintToString(driven.errors);
  EXPECT_EQ(reset.requestCount(), kThreshold);
  EXPECT_NE(circuitReason(admin, "reset").find("reset"), std::string::npos)
      << explain(admin, "reset").dump();
  auto line = lb.process().waitForLine("circuit open lb=web backend=reset", deadlineIn(5000));
  ASSERT_TRUE(line);
  EXPECT_NE(line->find(std::to_string(kThreshold) + " consecutive failures"), std::string::npos)
      << *line;

  TrafficResult after = sendRequests(lb.port(), 20, deadlineIn(20000));
  EXPECT_EQ(after.failures, 0) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(reset.requestCount(), kThreshold);
}

TEST(CircuitBreaker, OpensOnUpstreamResponseTimeoutsAfterThe504s) {
  TestBackend hang("hang", Behaviour{.mode = BackendMode::Hang});
  TestBackend good("good");
  FiberlbConfig config = breakerConfig({{"hang", hang.port()}, {"good", good.port()}}, 60);
  config.loadbalancers[0].timeouts["upstream_response_ms"] = 200;
  FiberlbProcess lb;
  TrafficResult driven;
  const uint16_t admin = startAndOpen(lb, config, "hang", driven);
  ASSERT_NE(admin, 0);
  EXPECT_EQ(driven.failures, kThreshold) << ::testing::PrintToString(driven.errors);
  EXPECT_EQ(failuresLike(driven, "status 504"), kThreshold)
      << ::testing::PrintToString(driven.errors);
  const int connections = hang.connectionCount();
  EXPECT_EQ(connections, kThreshold);
  EXPECT_FALSE(circuitReason(admin, "hang").empty()) << explain(admin, "hang").dump();
  EXPECT_TRUE(lb.process().waitForLine("circuit open lb=web backend=hang", deadlineIn(5000)));

  TrafficResult after = sendRequests(lb.port(), 20, deadlineIn(20000));
  EXPECT_EQ(after.failures, 0) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(hang.connectionCount(), connections) << "an open circuit is not connected to";
  hang.stop();
}

TEST(CircuitBreaker, OpensOnRefusalsAndThenTheRefusingBackendIsNoLongerAttempted) {
  TestBackend good("good");
  FiberlbProcess lb;
  TrafficResult driven;
  const uint16_t admin = startAndOpen(
      lb, breakerConfig({{"dead", refusingPort()}, {"good", good.port()}}, 60), "dead", driven);
  ASSERT_NE(admin, 0);
  EXPECT_EQ(driven.failures, 0) << "a refusal is retried on another backend: "
                                << ::testing::PrintToString(driven.errors);
  const double retried = retries(admin);
  EXPECT_GE(retried, kThreshold) << "each refusal was retried";
  const std::string reason = circuitReason(admin, "dead");
  EXPECT_NE(reason.find("connection refused"), std::string::npos) << explain(admin, "dead").dump();

  TrafficResult after = sendRequests(lb.port(), 30, deadlineIn(20000), /*keep_alive=*/false);
  EXPECT_EQ(after.failures, 0) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(after.by_backend["good"], 30);
  EXPECT_EQ(retries(admin), retried) << "the open circuit's backend was attempted again";
}

// Two regions, no active health checks: every backend of the active region answering 500 opens
// every circuit there, which takes the region offline and fails over.
TEST(CircuitBreaker, OpenCircuitsAloneFailTheActiveRegionOver) {
  const std::string kTokyo = "ap-northeast-1";
  const std::string kVirginia = "us-east-1";
  TestBackend tokyo1("tokyo-1", Behaviour{.status = 500});
  TestBackend tokyo2("tokyo-2", Behaviour{.status = 500});
  TestBackend virginia1("virginia-1"), virginia2("virginia-2");
  FiberlbConfig config =
      breakerConfig({{"tokyo-1", tokyo1.port(), 100, "127.0.0.1", kTokyo},
                     {"tokyo-2", tokyo2.port(), 100, "127.0.0.1", kTokyo},
                     {"virginia-1", virginia1.port(), 100, "127.0.0.1", kVirginia},
                     {"virginia-2", virginia2.port(), 100, "127.0.0.1", kVirginia}},
                    60);
  config.extra = "[geo]\nauto_failover = true\nactive_region = \"" + kTokyo +
                 "\"\n"
                 "[[geo.regions]]\nid = \"" +
                 kTokyo +
                 "\"\nlatitude = 35.68\nlongitude = 139.69\npriority = 1\n"
                 "[[geo.regions]]\nid = \"" +
                 kVirginia + "\"\nlatitude = 39.04\nlongitude = -77.49\npriority = 2\n";
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(config));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  auto active = [&] { return adminJson(admin, "/api/geo/active-region").value("region_id", ""); };
  ASSERT_EQ(active(), kTokyo);

  TrafficResult driven;
  ASSERT_TRUE(pollUntil(
      [&] {
        add(driven, sendRequests(lb.port(), 1, deadlineIn(10000)));
        return active() == kVirginia;
      },
      deadlineIn(15000), milliseconds(0)))
      << "active region is still " << active();
  EXPECT_EQ(circuit(admin, "tokyo-1"), "open");
  EXPECT_EQ(circuit(admin, "tokyo-2"), "open");
  EXPECT_EQ(tokyo1.requestCount() + tokyo2.requestCount(), 2 * kThreshold);
  EXPECT_EQ(failuresLike(driven, "status 500"), 2 * kThreshold)
      << ::testing::PrintToString(driven.errors);

  json history = adminJson(admin, "/api/geo/failover/history");
  ASSERT_TRUE(history.is_array() && !history.empty()) << history.dump();
  EXPECT_EQ(history[0].value("from_region", ""), kTokyo) << history.dump();
  EXPECT_EQ(history[0].value("to_region", ""), kVirginia) << history.dump();
  EXPECT_EQ(history[0].value("triggered_by", ""), "auto") << history.dump();
  EXPECT_EQ(history[0].value("success", false), true) << history.dump();

  TrafficResult after = sendRequests(lb.port(), 20, deadlineIn(20000));
  EXPECT_EQ(after.failures, 0) << ::testing::PrintToString(after.errors);
  EXPECT_EQ(after.by_backend["virginia-1"] + after.by_backend["virginia-2"], 20);
}

}  // namespace
}  // namespace fiberlb::testing
