// Region failover (SPEC §4 "Failover", §3 [geo], state_file, §8 /api/geo/*): health checks
// take a region offline, the active region moves to the best serving one (priority, then
// latency from the failed region) within interval × unhealthy_threshold + 1 s without a
// failed request, operators switch through the API, failback is manual or automatic after a
// hold, no serving region gives 503 + Retry-After, and the active region, the history and
// admin changes survive a restart (a corrupt state file is set aside).

#include <gtest/gtest.h>

#include <signal.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/admin_json.h"
#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

constexpr double kIntervalSec = 0.2;
constexpr int kFall = 2;
constexpr int kRise = 2;

// Real AWS regions and coordinates (SPEC §3 default regions).
struct RegionSpec {
  std::string id;
  std::string short_name;  // backends are "<short_name>-1", "<short_name>-2", ...
  double latitude;
  double longitude;
  int priority;
};

RegionSpec tokyo(int priority) {
  return {"ap-northeast-1", "tokyo", 35.68, 139.69, priority};
}
RegionSpec virginia(int priority) {
  return {"us-east-1", "virginia", 39.04, -77.49, priority};
}
RegionSpec ireland(int priority) {
  return {"eu-west-1", "ireland", 53.33, -6.25, priority};
}

const std::string kTokyo = "ap-northeast-1";
const std::string kVirginia = "us-east-1";
const std::string kIreland = "eu-west-1";

// [geo] active_region: the start-up choice most tests begin from, so that they do not depend
// on the automatic first choice (which has its own test).
std::string pinned(const std::string& region) {
  return "active_region = \"" + region + "\"\n";
}

// Backends per region and the config of one HTTP LB "web" over all of them, with http checks
// every 0.2 s (fall 2, rise 2) and retries on.
class Cluster {
 public:
  explicit Cluster(std::vector<RegionSpec> regions, int per_region = 2)
      : regions_(std::move(regions)) {
    for (const RegionSpec& r : regions_) {
      for (int i = 1; i <= per_region; ++i) {
        const std::string name = r.short_name + "-" + std::to_string(i);
        backends_[r.id].push_back(std::make_unique<TestBackend>(name));
        region_of_[name] = r.id;
      }
    }
  }

  const std::vector<std::unique_ptr<TestBackend>>& in(const std::string& region) {
    return backends_.at(region);
  }
  TestBackend& backend(const std::string& region, int i) { return *backends_.at(region).at(i); }
  // The region of backend `name` ("" when unknown).
  std::string regionOf(const std::string& name) const {
    auto it = region_of_.find(name);
    return it == region_of_.end() ? "" : it->second;
  }

  void setAll(const std::string& region, const Behaviour& b) {
    for (auto& backend : in(region))
      backend->setBehaviour(b);
  }
  void stopAll(const std::string& region) {
    for (auto& backend : in(region))
      backend->stop();
  }

  // `geo` holds extra lines of the [geo] table (failback etc.).
  FiberlbConfig config(const std::string& geo = "") const {
    FiberlbConfig config;
    LbConfig web;
    web.name = "web";
    web.retries_max = 2;
    for (const RegionSpec& r : regions_) {
      for (const auto& b : backends_.at(r.id))
        web.backends.push_back({b->name(), b->port(), 100, "127.0.0.1", r.id});
    }
    web.healthcheck =
        "type = \"http\"\ninterval_sec = 0.2\ntimeout_sec = 1\npath = \"/hc\"\n"
        "healthy_threshold = " +
        std::to_string(kRise) + "\nunhealthy_threshold = " + std::to_string(kFall) + "\n";
    config.loadbalancers.push_back(web);
    std::ostringstream extra;
    extra << "[geo]\nauto_failover = true\n" << geo;
    for (const RegionSpec& r : regions_) {
      extra << "[[geo.regions]]\nid = \"" << r.id << "\"\ndisplay_name = \"" << r.short_name
            << "\"\nprovider = \"aws\"\nlatitude = " << r.latitude
            << "\nlongitude = " << r.longitude << "\npriority = " << r.priority << "\n";
    }
    config.extra = extra.str();
    return config;
  }

 private:
  std::vector<RegionSpec> regions_;
  std::map<std::string, std::vector<std::unique_ptr<TestBackend>>> backends_;
  std::map<std::string, std::string> region_of_;
};

json parseJson(const Response& r) {
  return json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

std::string activeRegion(uint16_t admin) {
  json j = adminJson(admin, "/api/geo/active-region");
  if (!j.is_object() || !j["region_id"].is_string()) return "<none>";
  return j["region_id"].get<std::string>();
}

std::string regionStatus(uint16_t admin, const std::string& region) {
  json j = adminJson(admin, "/api/geo/status");
  if (!j.is_object() || !j["regions"].is_object() || !j["regions"].contains(region))
    return "<none>";
  return j["regions"][region].value("status", "<none>");
}

json history(uint16_t admin, const std::string& query = "") {
  return adminJson(admin, "/api/geo/failover/history" + query);
}

json nodeOf(uint16_t admin, const std::string& name) {
  json nodes = adminJson(admin, "/api/geo/nodes");
  if (!nodes.is_array()) return nullptr;
  for (const json& n : nodes) {
    if (n.value("node_id", "") == name) return n;
  }
  return nullptr;
}

int64_t msSince(Clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(Clock::now() - t).count();
}

// SPEC §4: detection to switch within one interval × unhealthy_threshold + 1 s.
int64_t switchBoundMs() {
  return static_cast<int64_t>((kIntervalSec * 1000 * kFall + 1000) * timeoutScale());
}

// Checks the shape of a FailoverEvent (SPEC §4).
void expectEvent(const json& e, const std::string& from, const std::string& to,
                 const std::string& triggered_by) {
  static const std::regex kUuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  static const std::regex kRfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
  ASSERT_TRUE(e.is_object()) << e.dump();
  EXPECT_TRUE(std::regex_match(e.value("event_id", ""), kUuid)) << e.dump();
  EXPECT_EQ(e.value("from_region", ""), from) << e.dump();
  EXPECT_EQ(e.value("to_region", ""), to) << e.dump();
  EXPECT_TRUE(std::regex_match(e.value("timestamp", ""), kRfc3339)) << e.dump();
  EXPECT_FALSE(e.value("reason", "").empty()) << e.dump();
  if (!triggered_by.empty()) {
    EXPECT_EQ(e.value("triggered_by", ""), triggered_by) << e.dump();
  }
  EXPECT_EQ(e.value("success", false), true) << e.dump();
}

// Regions that answered `r`'s successful requests.
std::set<std::string> regionsServing(const Cluster& cluster, const TrafficResult& r) {
  std::set<std::string> regions;
  for (const auto& [name, n] : r.by_backend)
    regions.insert(cluster.regionOf(name));
  return regions;
}

// Waits until requests land only in `region` (the worker's snapshot follows the control
// loop's asynchronously), then checks that 20 more all do.
void expectTrafficGoesTo(const Cluster& cluster, uint16_t port, const std::string& region) {
  ASSERT_TRUE(pollUntil(
      [&] {
        TrafficResult probe = sendRequests(port, 4, deadlineIn(5000));
        return probe.failures == 0 &&
               regionsServing(cluster, probe) == std::set<std::string>{region};
      },
      deadlineIn(5000), milliseconds(20)))
      << "requests never went to " << region << " only";
  TrafficResult r = sendRequests(port, 20, deadlineIn(20000));
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(regionsServing(cluster, r), std::set<std::string>{region});
}

TEST(RegionFailover, ActiveRegionDownSwitchesToNextPriorityWithoutAFailedRequest) {
  Cluster cluster({tokyo(1), virginia(2), ireland(3)});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(cluster.config(pinned(kTokyo))));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0) << "no 'admin API listening addr=' line";
  ASSERT_EQ(activeRegion(admin), kTokyo);

  BackgroundLoad load(lb.port(), 1);
  ASSERT_TRUE(load.waitForMore(20, deadlineIn(20000)));
  // Both Tokyo backends die: connections are refused, which retries cover.
  cluster.stopAll(kTokyo);
  const auto stopped_at = Clock::now();
  ASSERT_TRUE(pollUntil([&] { return activeRegion(admin) == kVirginia; }, deadlineIn(15000)))
      << "active region is still " << activeRegion(admin);
  const int64_t switch_ms = msSince(stopped_at);
  EXPECT_LE(switch_ms, switchBoundMs());
  ASSERT_TRUE(load.waitForMore(50, deadlineIn(20000)));
  TrafficResult during = load.stop();
  EXPECT_EQ(during.failures, 0) << ::testing::PrintToString(during.errors);
  EXPECT_EQ(regionsServing(cluster, during).count(kIreland), 0u);
  ASSERT_FALSE(during.sequence.empty());
  EXPECT_EQ(cluster.regionOf(during.sequence.back()), kVirginia);

  json events = history(admin);
  ASSERT_TRUE(events.is_array()) << events.dump();
  ASSERT_EQ(events.size(), 1u) << events.dump();
  expectEvent(events[0], kTokyo, kVirginia, "auto");
  EXPECT_TRUE(lb.process().waitForLine(
      "failover from \"" + kTokyo + "\" to \"" + kVirginia + "\" (auto)", deadlineIn(2000)))
      << "no failover log line";

  json status = adminJson(admin, "/api/geo/status");
  ASSERT_TRUE(status.is_object()) << status.dump();
  EXPECT_EQ(status.value("active_region", ""), kVirginia);
  EXPECT_EQ(status.value("total_regions", 0), 3);
  EXPECT_EQ(status.value("total_nodes", 0), 6);
  EXPECT_EQ(status.value("online_regions", 0), 2);
  EXPECT_EQ(status["regions"][kTokyo].value("status", ""), "offline") << status.dump();
  EXPECT_EQ(status["regions"][kVirginia].value("status", ""), "online") << status.dump();
  EXPECT_EQ(status["regions"][kVirginia].value("priority", 0), 2);
  EXPECT_EQ(status["regions"][kVirginia].value("node_count", 0), 2);
  // Real traffic opened its circuit at once; the health checks agree within their fall time.
  json t1;
  EXPECT_TRUE(pollUntil(
      [&] {
        t1 = nodeOf(admin, "tokyo-1");
        return t1.value("health", "") == "unhealthy";
      },
      deadlineIn(15000)))
      << t1.dump();
  EXPECT_EQ(t1.value("region_id", ""), kTokyo) << t1.dump();
  EXPECT_EQ(t1.value("loadbalancer", ""), "web") << t1.dump();
  EXPECT_EQ(t1.value("eligible", true), false) << t1.dump();
}

TEST(RegionFailover, EqualPrioritiesAreBrokenByLatencyFromTheFailedRegion) {
  // Ireland fails; Tokyo and N. Virginia share priority 2. Virginia (≈ 5 500 km) is nearer
  // to Ireland than Tokyo (≈ 9 600 km), although Tokyo comes first by id and in the file.
  Cluster cluster({ireland(1), tokyo(2), virginia(2)});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(cluster.config(pinned(kIreland))));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  ASSERT_EQ(activeRegion(admin), kIreland);

  json matrix = adminJson(admin, "/api/geo/latency-matrix");
  ASSERT_TRUE(matrix.is_object()) << matrix.dump();
  EXPECT_LT(matrix["matrix"][kIreland].value(kVirginia, 1e9),
            matrix["matrix"][kIreland].value(kTokyo, 0.0))
      << matrix.dump();

  cluster.setAll(kIreland, Behaviour{.status = 503});
  const auto failed_at = Clock::now();
  ASSERT_TRUE(pollUntil([&] { return activeRegion(admin) != kIreland; }, deadlineIn(15000)));
  EXPECT_LE(msSince(failed_at), switchBoundMs());
  EXPECT_EQ(activeRegion(admin), kVirginia);
  json events = history(admin);
  ASSERT_TRUE(events.is_array() && events.size() == 1) << events.dump();
  expectEvent(events[0], kIreland, kVirginia, "auto");
  expectTrafficGoesTo(cluster, lb.port(), kVirginia);
}

TEST(RegionFailover, OperatorSwitchesThroughTheApi) {
  Cluster cluster({tokyo(1), virginia(2), ireland(3)});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(cluster.config(pinned(kTokyo))));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  ASSERT_EQ(activeRegion(admin), kTokyo);

  Response post = adminRequest(
      admin, "POST", "/api/geo/failover",
      json{{"to_region", kIreland}, {"reason", "maintenance drill"}, {"triggered_by", "alice"}}
          .dump());
  ASSERT_TRUE(post.ok()) << post.error;
  ASSERT_EQ(post.status, 200) << post.body;
  json executed = parseJson(post);
  EXPECT_EQ(executed.value("status", ""), "failover_executed") << post.body;
  expectEvent(executed["event"], kTokyo, kIreland, "alice");
  EXPECT_EQ(executed["event"].value("reason", ""), "maintenance drill");
  EXPECT_EQ(activeRegion(admin), kIreland);
  expectTrafficGoesTo(cluster, lb.port(), kIreland);

  Response put =
      adminRequest(admin, "PUT", "/api/geo/active-region", json{{"region_id", kVirginia}}.dump());
  ASSERT_TRUE(put.ok()) << put.error;
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(activeRegion(admin), kVirginia);
  expectTrafficGoesTo(cluster, lb.port(), kVirginia);

  // Rejected switches: unknown region (404), a from_region that is not active (409).
  Response unknown =
      adminRequest(admin, "POST", "/api/geo/failover", json{{"to_region", "mars-north-1"}}.dump());
  ASSERT_TRUE(unknown.ok()) << unknown.error;
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  EXPECT_TRUE(parseJson(unknown).contains("error")) << unknown.body;
  Response stale = adminRequest(admin, "POST", "/api/geo/failover",
                                json{{"from_region", kTokyo}, {"to_region", kIreland}}.dump());
  ASSERT_TRUE(stale.ok()) << stale.error;
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_TRUE(parseJson(stale).contains("error")) << stale.body;
  Response put_unknown = adminRequest(admin, "PUT", "/api/geo/active-region",
                                      json{{"region_id", "mars-north-1"}}.dump());
  ASSERT_TRUE(put_unknown.ok()) << put_unknown.error;
  EXPECT_EQ(put_unknown.status, 404) << put_unknown.body;
  EXPECT_EQ(activeRegion(admin), kVirginia);

  // Newest first; failed attempts are not switches.
  json events = history(admin);
  ASSERT_TRUE(events.is_array()) << events.dump();
  ASSERT_EQ(events.size(), 2u) << events.dump();
  expectEvent(events[0], kIreland, kVirginia, "");
  expectEvent(events[1], kTokyo, kIreland, "alice");
  EXPECT_NE(events[0].value("event_id", ""), events[1].value("event_id", ""));
  json limited = history(admin, "?limit=1");
  ASSERT_TRUE(limited.is_array() && limited.size() == 1) << limited.dump();
  EXPECT_EQ(limited[0].value("event_id", ""), events[0].value("event_id", ""));
}

// Fails Tokyo's checks, waits for the automatic switch to Virginia, then lets Tokyo pass
// again and returns when it is online; the time it was seen online.
Clock::time_point failTokyoAndRecover(Cluster& cluster, uint16_t admin) {
  cluster.setAll(kTokyo, Behaviour{.status = 503});
  EXPECT_TRUE(pollUntil([&] { return activeRegion(admin) == kVirginia; }, deadlineIn(15000)))
      << "no failover to " << kVirginia << "; active " << activeRegion(admin);
  cluster.setAll(kTokyo, Behaviour{});
  EXPECT_TRUE(pollUntil([&] { return regionStatus(admin, kTokyo) == "online"; }, deadlineIn(15000)))
      << kTokyo << " is " << regionStatus(admin, kTokyo);
  return Clock::now();
}

TEST(RegionFailover, ManualFailbackNeverReturnsByItself) {
  Cluster cluster({tokyo(1), virginia(2), ireland(3)});
  FiberlbProcess lb;
  ASSERT_TRUE(
      lb.start(cluster.config(pinned(kTokyo) + "failback = \"manual\"\nfailback_hold_sec = 1\n")));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  ASSERT_EQ(activeRegion(admin), kTokyo);

  failTokyoAndRecover(cluster, admin);
  ASSERT_FALSE(::testing::Test::HasFailure());
  // Tokyo is online and preferred; with manual failback nothing happens, even well past
  // failback_hold_sec (a bounded wait for something that must not happen).
  EXPECT_FALSE(pollUntil([&] { return activeRegion(admin) != kVirginia; }, deadlineIn(2500),
                         milliseconds(50)))
      << "active region changed to " << activeRegion(admin) << " with failback = manual";
  json events = history(admin);
  ASSERT_TRUE(events.is_array()) << events.dump();
  EXPECT_EQ(events.size(), 1u) << events.dump();
  expectTrafficGoesTo(cluster, lb.port(), kVirginia);

  // The operator returns.
  Response put =
      adminRequest(admin, "PUT", "/api/geo/active-region", json{{"region_id", kTokyo}}.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  expectTrafficGoesTo(cluster, lb.port(), kTokyo);
}

TEST(RegionFailover, AutoFailbackReturnsAfterTheHold) {
  Cluster cluster({tokyo(1), virginia(2), ireland(3)});
  FiberlbProcess lb;
  ASSERT_TRUE(
      lb.start(cluster.config(pinned(kTokyo) + "failback = \"auto\"\nfailback_hold_sec = 1\n")));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  ASSERT_EQ(activeRegion(admin), kTokyo);

  const auto online_at = failTokyoAndRecover(cluster, admin);
  ASSERT_FALSE(::testing::Test::HasFailure());
  ASSERT_TRUE(pollUntil([&] { return activeRegion(admin) == kTokyo; }, deadlineIn(10000)))
      << "no failback; active " << activeRegion(admin);
  const int64_t back_ms = msSince(online_at);
  // Tokyo was seen online a little after it became online (polling): allow for that.
  EXPECT_GE(back_ms, 1000 - 150) << "failback before failback_hold_sec";
  EXPECT_LE(back_ms, static_cast<int64_t>((1000 + 1000) * timeoutScale()));

  json events = history(admin);
  ASSERT_TRUE(events.is_array()) << events.dump();
  ASSERT_EQ(events.size(), 2u) << events.dump();
  expectEvent(events[0], kVirginia, kTokyo, "");
  EXPECT_EQ(events[0].value("triggered_by", "").rfind("auto", 0), 0u) << events[0].dump();
  expectEvent(events[1], kTokyo, kVirginia, "auto");
  expectTrafficGoesTo(cluster, lb.port(), kTokyo);
}

TEST(RegionFailover, NoServingRegionAnswers503WithRetryAfter) {
  Cluster cluster({tokyo(1), virginia(2)}, 1);
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(cluster.config()));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  cluster.setAll(kTokyo, Behaviour{.status = 503});
  cluster.setAll(kVirginia, Behaviour{.status = 503});
  ASSERT_TRUE(pollUntil(
      [&] {
        json s = adminJson(admin, "/api/geo/status");
        return s.is_object() && s.value("online_regions", -1) == 0;
      },
      deadlineIn(15000)))
      << adminJson(admin, "/api/geo/status").dump();

  // fiberlb's own 503 (no X-Backend: not a backend's 503 passed through).
  Response r;
  ASSERT_TRUE(pollUntil(
      [&] {
        r = fetch(lb.port(), getRequest("/traffic"), deadlineIn(5000));
        return r.ok() && r.status == 503 && !r.header("X-Backend");
      },
      deadlineIn(5000), milliseconds(20)))
      << r.status << " " << r.body;
  json body = parseJson(r);
  EXPECT_EQ(body.value("error", ""), "no_healthy_backend") << r.body;
  EXPECT_NE(r.header("Content-Type").value_or("").find("application/json"), std::string::npos);
  const std::string retry_after = r.header("Retry-After").value_or("");
  ASSERT_FALSE(retry_after.empty()) << "no Retry-After header";
  if (std::regex_match(retry_after, std::regex("[0-9]+"))) {
    EXPECT_GT(std::stoi(retry_after), 0);
  }

  Response h = adminRequest(admin, "GET", "/health");
  ASSERT_TRUE(h.ok()) << h.error;
  EXPECT_EQ(h.status, 503) << h.body;
  EXPECT_EQ(parseJson(h).value("status", ""), "unhealthy") << h.body;

  // One backend recovers: its region serves again and /health is 200.
  cluster.backend(kVirginia, 0).setBehaviour(Behaviour{});
  ASSERT_TRUE(pollUntil(
      [&] {
        Response ok = fetch(lb.port(), getRequest("/traffic"), deadlineIn(5000));
        return ok.ok() && ok.status == 200;
      },
      deadlineIn(10000), milliseconds(20)));
  EXPECT_EQ(activeRegion(admin), kVirginia);
  EXPECT_EQ(adminRequest(admin, "GET", "/health").status, 200);
}

TEST(RegionFailover, FirstChoiceAtStartIsTheHighestPriorityServingRegion) {
  // SPEC §3: active_region = "" picks the highest-priority online region at start. Tokyo's
  // checks answer a little later than the others', so other regions have verdicts first.
  Cluster cluster({tokyo(1), virginia(2), ireland(3)});
  cluster.setAll(kTokyo, Behaviour{.delay = milliseconds(150)});
  FiberlbProcess lb;
  ASSERT_TRUE(lb.start(cluster.config()));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);
  EXPECT_EQ(regionStatus(admin, kTokyo), "online");
  EXPECT_EQ(activeRegion(admin), kTokyo);
  json events = history(admin);
  ASSERT_TRUE(events.is_array()) << events.dump();
  EXPECT_TRUE(events.empty()) << "the first choice is not a failover: " << events.dump();
}

TEST(RegionFailover, ActiveRegionHistoryAndAdminChangesSurviveARestart) {
  Cluster cluster({tokyo(1), virginia(2), ireland(3)});
  FiberlbProcess first;
  ASSERT_TRUE(first.start(cluster.config()));
  uint16_t admin = adminPort(first);
  ASSERT_NE(admin, 0);
  // No active_region in the config (the state file must win on restart): the switch goes
  // from whatever was chosen at start to a region that is not it.
  const std::string from = activeRegion(admin);
  const std::string to = from == kIreland ? kVirginia : kIreland;
  const std::string to_name = to == kIreland ? "ireland" : "virginia";

  Response post = adminRequest(
      admin, "POST", "/api/geo/failover",
      json{{"to_region", to}, {"reason", "restart drill"}, {"triggered_by", "bob"}}.dump());
  ASSERT_EQ(post.status, 200) << post.body;
  const std::string event_id = parseJson(post)["event"].value("event_id", "");
  ASSERT_FALSE(event_id.empty()) << post.body;
  Response drain = adminRequest(admin, "PATCH", "/api/loadbalancers/web/backends/" + to_name + "-2",
                                json{{"state", "drain"}}.dump());
  ASSERT_EQ(drain.status, 200) << drain.body;
  Response weight =
      adminRequest(admin, "PATCH", "/api/loadbalancers/web/backends/" + to_name + "-1",
                   json{{"weight", 50}}.dump());
  ASSERT_EQ(weight.status, 200) << weight.body;

  // The switch is in the state file.
  const std::string state_path = first.dir().file("state.json");
  ASSERT_TRUE(pollUntil(
      [&] {
        std::ifstream in(state_path);
        std::stringstream text;
        text << in.rdbuf();
        return text.str().find(event_id) != std::string::npos;
      },
      deadlineIn(5000)))
      << "event " << event_id << " not in " << state_path;
  const std::optional<int> code = first.stop(SIGTERM, deadlineIn(15000));
  ASSERT_TRUE(code.has_value()) << "fiberlb did not exit on SIGTERM";
  ASSERT_EQ(*code, 0);

  // Same config, same state file.
  FiberlbProcess second;
  ASSERT_TRUE(second.startWithFile(first.configPath(), {}));
  admin = adminPort(second);
  ASSERT_NE(admin, 0);
  EXPECT_EQ(activeRegion(admin), to);
  json events = history(admin);
  ASSERT_TRUE(events.is_array()) << events.dump();
  ASSERT_EQ(events.size(), 1u) << events.dump();
  expectEvent(events[0], from, to, "bob");
  EXPECT_EQ(events[0].value("event_id", ""), event_id);
  EXPECT_EQ(events[0].value("reason", ""), "restart drill");
  EXPECT_EQ(events[0].value("timestamp", ""), parseJson(post)["event"].value("timestamp", "?"));

  json drained = nodeOf(admin, to_name + "-2");
  EXPECT_EQ(drained.value("admin_state", ""), "drain") << drained.dump();
  json weighted = nodeOf(admin, to_name + "-1");
  EXPECT_EQ(weighted.value("weight", 0), 50) << weighted.dump();

  // The region switched to is active and its drained backend takes no new requests.
  TrafficResult r = sendRequests(second.port(), 20, deadlineIn(20000));
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(r.by_backend, (std::map<std::string, int>{{to_name + "-1", 20}}));
}

TEST(RegionFailover, CorruptStateFileIsSetAsideAndFiberlbStarts) {
  Cluster cluster({tokyo(1), virginia(2)});
  FiberlbProcess lb;
  const std::string garbage =
      "{\"active_region\": \"us-east-1\", \"history\": [tru\x01\xff garbage";
  const std::string state_path = lb.dir().write("state.json", garbage);
  ASSERT_TRUE(lb.start(cluster.config(pinned(kTokyo))));
  const uint16_t admin = adminPort(lb);
  ASSERT_NE(admin, 0);

  EXPECT_TRUE(lb.process().waitForLine("corrupt", deadlineIn(2000)))
      << "the corrupt state file was not logged";
  std::vector<std::string> aside;
  for (const auto& entry : std::filesystem::directory_iterator(lb.dir().path())) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("state.json.corrupt-", 0) == 0) aside.push_back(entry.path().string());
  }
  ASSERT_EQ(aside.size(), 1u) << "no state.json.corrupt-* file in " << lb.dir().path();
  std::ifstream in(aside[0], std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  EXPECT_EQ(content.str(), garbage) << "the set-aside file is not the corrupt original";

  // Started from scratch (not from the garbage's "us-east-1"): an empty history, serving.
  EXPECT_EQ(activeRegion(admin), kTokyo);
  json events = history(admin);
  ASSERT_TRUE(events.is_array()) << events.dump();
  EXPECT_TRUE(events.empty()) << events.dump();
  TrafficResult r = sendRequests(lb.port(), 10, deadlineIn(20000));
  EXPECT_EQ(r.failures, 0) << ::testing::PrintToString(r.errors);
  EXPECT_EQ(regionsServing(cluster, r), std::set<std::string>{kTokyo});
}

}  // namespace
}  // namespace fiberlb::testing
