// The SPEC §8 admin API against the real binary with three regions (Tokyo p1, Virginia p2,
// Ireland p3; two backends each, http checks every 0.2 s): every endpoint's answer when it
// works and its 400/401/404/409 answers when it must not.

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/fiberlb_process.h"
#include "tests/support/http_client.h"
#include "tests/support/test_backend.h"
#include "tests/support/traffic.h"

namespace fiberlb::testing {
namespace {

using nlohmann::json;

const std::string kTokyo = "ap-northeast-1";
const std::string kVirginia = "us-east-1";
const std::string kIreland = "eu-west-1";

struct RegionSpec {
  std::string id;
  std::string short_name;  // backends are "<short_name>-1" and "<short_name>-2"
  double latitude;
  double longitude;
  int priority;
};

const std::vector<RegionSpec> kRegions = {{kTokyo, "tokyo", 35.68, 139.69, 1},
                                          {kVirginia, "virginia", 39.04, -77.49, 2},
                                          {kIreland, "ireland", 53.33, -6.25, 3}};

// "METHOD path" with an optional JSON body and extra header lines, on its own connection.
Response adminCall(uint16_t port, const std::string& method, const std::string& path,
                   const std::string& body = "", const std::string& headers = "") {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: admin.test\r\n" + headers;
  if (!body.empty() || method != "GET")
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  request += "Connection: close\r\n\r\n" + body;
  return fetch(port, request, deadlineIn(5000));
}

json parseJson(const Response& r) {
  json j = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
  return j;
}

// Asserts the SPEC §8 error shape with `status` and `code`.
void expectError(const Response& r, int status, const std::string& code) {
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_NE(r.header("Content-Type").value_or("").find("application/json"), std::string::npos);
  json j = parseJson(r);
  EXPECT_EQ(j.value("error", ""), code) << r.body;
  EXPECT_FALSE(j.value("message", "").empty()) << r.body;
}

std::vector<std::string> strings(const json& list, const std::string& key) {
  std::vector<std::string> out;
  if (!list.is_array()) return out;
  for (const json& item : list)
    out.push_back(item.value(key, ""));
  return out;
}

class AdminGeoApi : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const RegionSpec& r : kRegions)
      for (int i = 1; i <= 2; ++i)
        backends_[r.id].push_back(
            std::make_unique<TestBackend>(r.short_name + "-" + std::to_string(i)));
    ASSERT_TRUE(lb_.start(config()));
    static const std::regex kAddr(R"(admin API listening addr=(\S+):(\d+))");
    auto line = lb_.process().waitForLine("admin API listening addr=", deadlineIn(5000));
    std::smatch m;
    ASSERT_TRUE(line && std::regex_search(*line, m, kAddr)) << "no admin address logged";
    admin_ = static_cast<uint16_t>(std::stoi(m[2].str()));
    ASSERT_TRUE(pollUntil([&] { return get("/api/geo/status").value("online_regions", 0) == 3; },
                          deadlineIn(10000)))
        << get("/api/geo/status").dump();
  }

  // One LB "web" over every backend, with `more` appended to its backends.
  FiberlbConfig config(const std::vector<BackendConfig>& more = {}) const {
    FiberlbConfig config;
    LbConfig web;
    for (const RegionSpec& r : kRegions)
      for (const auto& b : backends_.at(r.id))
        web.backends.push_back({b->name(), b->port(), 100, "127.0.0.1", r.id});
    web.backends.insert(web.backends.end(), more.begin(), more.end());
    web.healthcheck =
        "type = \"http\"\ninterval_sec = 0.2\ntimeout_sec = 1\npath = \"/hc\"\n"
        "healthy_threshold = 1\nunhealthy_threshold = 2\n";
    config.loadbalancers.push_back(web);
    std::ostringstream extra;
    // Named, not left to the start-up choice: these tests are about the API, not about which
    // region the first health results favour.
    extra << "[geo]\nreplication_group_size = 2\nactive_region = \"" << kTokyo << "\"\n";
    for (const RegionSpec& r : kRegions)
      extra << "[[geo.regions]]\nid = \"" << r.id << "\"\ndisplay_name = \"" << r.short_name
            << "\"\nprovider = \"aws\"\nlatitude = " << r.latitude
            << "\nlongitude = " << r.longitude << "\npriority = " << r.priority << "\n";
    config.extra = extra.str();
    return config;
  }

  Response call(const std::string& method, const std::string& path, const std::string& body = "") {
    return adminCall(admin_, method, path, body);
  }
  // GET `path` as JSON (null on any failure).
  json get(const std::string& path) {
    Response r = adminCall(admin_, "GET", path);
    if (!r.ok() || r.status != 200) return nullptr;
    return parseJson(r);
  }
  // The backend that answered one request through the LB ("" on failure).
  std::string servedBy() {
    TrafficResult t = sendRequests(lb_.port(), 1, deadlineIn(5000), false);
    return t.sequence.empty() ? "" : t.sequence.front();
  }
  bool servedFrom(const std::string& region) {
    const std::string name = servedBy();
    for (const auto& b : backends_.at(region))
      if (b->name() == name) return true;
    return false;
  }

  std::map<std::string, std::vector<std::unique_ptr<TestBackend>>> backends_;
  FiberlbProcess lb_;
  uint16_t admin_ = 0;
};

TEST_F(AdminGeoApi, StatusRegionsLatencyMatrixAndReplicationGroup) {
  json status = get("/api/geo/status");
  EXPECT_EQ(status.value("active_region", ""), kTokyo) << status.dump();
  EXPECT_EQ(status.value("total_regions", 0), 3);
  EXPECT_EQ(status.value("total_nodes", 0), 6);
  EXPECT_EQ(status.value("online_regions", 0), 3);
  for (const RegionSpec& r : kRegions) {
    EXPECT_EQ(status["regions"][r.id].value("status", ""), "online") << r.id;
    EXPECT_EQ(status["regions"][r.id].value("node_count", 0), 2) << r.id;
    EXPECT_EQ(status["regions"][r.id].value("priority", 0), r.priority) << r.id;
  }

  json regions = get("/api/geo/regions");
  ASSERT_TRUE(regions.is_array()) << regions.dump();
  EXPECT_EQ(strings(regions, "region_id"), (std::vector<std::string>{kTokyo, kVirginia, kIreland}));
  json virginia = get("/api/geo/regions/" + kVirginia);
  EXPECT_EQ(virginia.value("region_id", ""), kVirginia);
  EXPECT_EQ(virginia.value("display_name", ""), "virginia");
  EXPECT_EQ(virginia.value("provider", ""), "aws");
  EXPECT_DOUBLE_EQ(virginia["location"].value("lat", 0.0), 39.04);
  EXPECT_DOUBLE_EQ(virginia["location"].value("lon", 0.0), -77.49);
  EXPECT_EQ(virginia.value("priority", 0), 2);
  expectError(call("GET", "/api/geo/regions/mars-1"), 404, "not_found");

  json matrix = get("/api/geo/latency-matrix");
  ASSERT_TRUE(matrix.is_object() && matrix["matrix"].is_object()) << matrix.dump();
  const json& m = matrix["matrix"];
  EXPECT_NEAR(m[kTokyo].value(kVirginia, 0.0), 54.4, 0.1) << m.dump();
  EXPECT_EQ(m[kTokyo].value(kTokyo, -1.0), 0.0);
  for (const RegionSpec& a : kRegions)
    for (const RegionSpec& b : kRegions) {
      const double ms = m[a.id].value(b.id, -1.0);
      EXPECT_DOUBLE_EQ(ms, m[b.id].value(a.id, -2.0)) << a.id << " " << b.id;
      EXPECT_NEAR(ms * 100, std::round(ms * 100), 1e-6) << "not 2 decimals: " << ms;
    }

  json group = get("/api/geo/replication-group/" + kVirginia);
  EXPECT_EQ(group.value("source_region", ""), kVirginia) << group.dump();
  EXPECT_EQ(group["replication_targets"], json({kIreland, kTokyo})) << group.dump();
  EXPECT_NEAR(group["latencies_ms"].value(kTokyo, 0.0), m[kVirginia].value(kTokyo, -1.0), 1e-9);
  expectError(call("GET", "/api/geo/replication-group/mars-1"), 404, "not_found");
}

TEST_F(AdminGeoApi, RegionsAreAddedAndDeleted) {
  const std::string oregon =
      R"json({"region_id":"us-west-2","display_name":"US West (Oregon)","provider":"aws",
          "location":{"lat":45.52,"lon":-122.68},"priority":4})json";
  Response created = call("POST", "/api/geo/regions", oregon);
  ASSERT_EQ(created.status, 201) << created.body;
  json j = parseJson(created);
  EXPECT_EQ(j.value("region_id", ""), "us-west-2");
  EXPECT_EQ(j.value("display_name", ""), "US West (Oregon)");
  EXPECT_EQ(j.value("priority", 0), 4);
  EXPECT_EQ(get("/api/geo/regions/us-west-2").value("provider", ""), "aws");
  EXPECT_EQ(get("/api/geo/status").value("total_regions", 0), 4);
  EXPECT_TRUE(get("/api/geo/latency-matrix")["matrix"].contains("us-west-2"));

  expectError(call("POST", "/api/geo/regions", oregon), 409, "conflict");
  expectError(call("POST", "/api/geo/regions", "{not json"), 400, "invalid_request");
  expectError(call("POST", "/api/geo/regions", R"({"display_name":"x"})"), 400, "invalid_request");
  expectError(
      call("POST", "/api/geo/regions", R"({"region_id":"x","location":{"lat":91,"lon":0}})"), 400,
      "invalid_request");
  expectError(call("POST", "/api/geo/regions", R"({"region_id":"x","priority":"high"})"), 400,
              "invalid_request");

  expectError(call("DELETE", "/api/geo/regions/" + kVirginia), 409, "conflict");  // backends
  expectError(call("DELETE", "/api/geo/regions/" + kTokyo), 409, "conflict");     // active
  Response deleted = call("DELETE", "/api/geo/regions/us-west-2");
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  expectError(call("GET", "/api/geo/regions/us-west-2"), 404, "not_found");
  expectError(call("DELETE", "/api/geo/regions/us-west-2"), 404, "not_found");
}

TEST_F(AdminGeoApi, NodesAreListedFilteredAddedAndRemoved) {
  json nodes = get("/api/geo/nodes");
  ASSERT_TRUE(nodes.is_array()) << nodes.dump();
  ASSERT_EQ(nodes.size(), 6u);
  const json& tokyo1 = nodes[0];
  EXPECT_EQ(tokyo1.value("node_id", ""), "tokyo-1");
  EXPECT_EQ(tokyo1.value("loadbalancer", ""), "web");
  EXPECT_EQ(tokyo1.value("region_id", ""), kTokyo);
  EXPECT_EQ(tokyo1.value("endpoint", ""),
            "127.0.0.1:" + std::to_string(backends_[kTokyo][0]->port()));
  EXPECT_EQ(tokyo1.value("health", ""), "healthy");
  EXPECT_EQ(tokyo1.value("circuit", ""), "closed");
  EXPECT_EQ(tokyo1.value("admin_state", ""), "enabled");
  EXPECT_EQ(tokyo1.value("eligible", false), true);
  EXPECT_EQ(tokyo1.value("in_rotation", false), true);
  EXPECT_TRUE(tokyo1.contains("active_requests"));
  EXPECT_EQ(nodes[2].value("in_rotation", true), false);  // virginia-1: not the active region

  EXPECT_EQ(strings(get("/api/geo/nodes?region_id=" + kIreland), "node_id"),
            (std::vector<std::string>{"ireland-1", "ireland-2"}));
  EXPECT_EQ(get("/api/geo/nodes?status=healthy").size(), 6u);
  EXPECT_EQ(get("/api/geo/nodes?status=unhealthy").size(), 0u);
  expectError(call("GET", "/api/geo/nodes?status=sleepy"), 400, "invalid_request");

  TestBackend extra("virginia-3");
  const std::string node =
      R"({"node_id":"virginia-3","region_id":"us-east-1","endpoint":"127.0.0.1:)" +
      std::to_string(extra.port()) + R"(","node_type":"compute","weight":50})";
  Response added = call("POST", "/api/geo/nodes", node);
  ASSERT_EQ(added.status, 201) << added.body;
  json a = parseJson(added);
  EXPECT_EQ(a.value("node_id", ""), "virginia-3");
  EXPECT_EQ(a.value("loadbalancer", ""), "web");
  EXPECT_EQ(a.value("region_id", ""), kVirginia);
  EXPECT_EQ(a.value("node_type", ""), "compute");
  EXPECT_EQ(a.value("weight", 0), 50);
  EXPECT_TRUE(pollUntil(
      [&] {
        json v = get("/api/geo/nodes?region_id=" + kVirginia + "&status=healthy");
        return v.is_array() && v.size() == 3;
      },
      deadlineIn(5000)));

  expectError(call("POST", "/api/geo/nodes", node), 409, "conflict");
  expectError(call("POST", "/api/geo/nodes", "nope"), 400, "invalid_request");
  expectError(call("POST", "/api/geo/nodes",
                   R"({"node_id":"x","region_id":"us-east-1","endpoint":"127.0.0.1:99999"})"),
              400, "invalid_request");
  expectError(call("POST", "/api/geo/nodes", R"({"node_id":"x","endpoint":"127.0.0.1:80"})"), 400,
              "invalid_request");
  expectError(call("POST", "/api/geo/nodes",
                   R"({"node_id":"x","region_id":"mars-1","endpoint":"127.0.0.1:80"})"),
              404, "not_found");
  expectError(call("POST", "/api/geo/nodes",
                   R"({"node_id":"x","region_id":"us-east-1","endpoint":"127.0.0.1:80",
                       "loadbalancer":"nope"})"),
              404, "not_found");

  Response removed = call("DELETE", "/api/geo/nodes/virginia-3");
  EXPECT_EQ(removed.status, 200) << removed.body;
  EXPECT_TRUE(pollUntil([&] { return get("/api/geo/nodes").size() == 6; }, deadlineIn(5000)));
  expectError(call("DELETE", "/api/geo/nodes/virginia-3"), 404, "not_found");
}

TEST_F(AdminGeoApi, ManualFailoverMovesTrafficAndIsRecorded) {
  ASSERT_TRUE(servedFrom(kTokyo));
  Response r = call("POST", "/api/geo/failover",
                    R"({"from_region":"ap-northeast-1","to_region":"us-east-1",
                        "reason":"tokyo maintenance","triggered_by":"alice"})");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = parseJson(r);
  EXPECT_EQ(j.value("status", ""), "failover_executed");
  const json& e = j["event"];
  EXPECT_EQ(e.value("from_region", ""), kTokyo);
  EXPECT_EQ(e.value("to_region", ""), kVirginia);
  EXPECT_EQ(e.value("reason", ""), "tokyo maintenance");
  EXPECT_EQ(e.value("triggered_by", ""), "alice");
  EXPECT_EQ(e.value("success", false), true);
  EXPECT_TRUE(
      std::regex_match(e.value("event_id", ""),
                       std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}")))
      << e.dump();
  EXPECT_TRUE(std::regex_match(e.value("timestamp", ""),
                               std::regex(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)")))
      << e.dump();
  EXPECT_TRUE(pollUntil([&] { return servedFrom(kVirginia); }, deadlineIn(5000)));
  EXPECT_EQ(get("/api/geo/status").value("active_region", ""), kVirginia);

  ASSERT_EQ(call("POST", "/api/geo/failover", R"({"to_region":"eu-west-1"})").status, 200);
  json history = get("/api/geo/failover/history");
  ASSERT_TRUE(history.is_array()) << history.dump();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].value("to_region", ""), kIreland);  // newest first
  EXPECT_EQ(history[0].value("reason", ""), "manual failover");
  EXPECT_EQ(history[0].value("triggered_by", ""), "api");
  EXPECT_EQ(history[1].value("event_id", ""), e.value("event_id", "?"));
  EXPECT_EQ(get("/api/geo/failover/history?limit=1").size(), 1u);
  expectError(call("GET", "/api/geo/failover/history?limit=0"), 400, "invalid_request");
  expectError(call("GET", "/api/geo/failover/history?limit=abc"), 400, "invalid_request");

  expectError(call("POST", "/api/geo/failover", R"({"to_region":"mars-1"})"), 404, "not_found");
  expectError(call("POST", "/api/geo/failover", R"({"to_region":"eu-west-1"})"), 409, "conflict");
  expectError(call("POST", "/api/geo/failover",
                   R"({"from_region":"ap-northeast-1","to_region":"us-east-1"})"),
              409, "conflict");
  expectError(call("POST", "/api/geo/failover", "{}"), 400, "invalid_request");
  expectError(call("POST", "/api/geo/failover", "[]"), 400, "invalid_request");
}

TEST_F(AdminGeoApi, ActiveRegionIsReadAndSet) {
  EXPECT_EQ(get("/api/geo/active-region").value("region_id", ""), kTokyo);
  Response r = call("PUT", "/api/geo/active-region", R"({"region_id":"eu-west-1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = parseJson(r);
  EXPECT_EQ(j.value("region_id", ""), kIreland);
  EXPECT_EQ(j.value("previous_region", ""), kTokyo);
  EXPECT_EQ(j["event"].value("to_region", ""), kIreland);
  EXPECT_EQ(get("/api/geo/active-region").value("region_id", ""), kIreland);
  EXPECT_TRUE(pollUntil([&] { return servedFrom(kIreland); }, deadlineIn(5000)));

  expectError(call("PUT", "/api/geo/active-region", R"({"region_id":"mars-1"})"), 404, "not_found");
  expectError(call("PUT", "/api/geo/active-region", R"({"region":"eu-west-1"})"), 400,
              "invalid_request");
  expectError(call("PUT", "/api/geo/active-region", "eu-west-1"), 400, "invalid_request");
  expectError(call("POST", "/api/geo/active-region", R"({"region_id":"eu-west-1"})"), 405,
              "method_not_allowed");
}

TEST_F(AdminGeoApi, BackendsArePatchedAndExplained) {
  json lbs = get("/api/loadbalancers");
  ASSERT_TRUE(lbs.is_array() && lbs.size() == 1u) << lbs.dump();
  EXPECT_EQ(lbs[0]["backends"].size(), 6u);
  EXPECT_EQ(lbs[0].value("routing_region", ""), kTokyo);

  Response drained =
      call("PATCH", "/api/loadbalancers/web/backends/tokyo-1", R"({"state":"drain"})");
  ASSERT_EQ(drained.status, 200) << drained.body;
  EXPECT_EQ(parseJson(drained).value("admin_state", ""), "drain");
  EXPECT_EQ(parseJson(drained).value("eligible", true), false);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(servedBy(), "tokyo-2");
  json why = get("/api/loadbalancers/web/backends/tokyo-1/explain");
  EXPECT_EQ(why.value("eligible", true), false) << why.dump();
  EXPECT_EQ(why.value("in_rotation", true), false);
  EXPECT_EQ(why.value("admin_state", ""), "drain");
  ASSERT_TRUE(why["reasons"].is_array());
  EXPECT_NE(why["reasons"].dump().find("drained by an operator"), std::string::npos) << why.dump();
  EXPECT_FALSE(why.value("summary", "").empty());

  Response weighted =
      call("PATCH", "/api/loadbalancers/web/backends/tokyo-2", R"({"weight":0,"state":"enabled"})");
  ASSERT_EQ(weighted.status, 200) << weighted.body;
  EXPECT_EQ(parseJson(weighted).value("weight", -1), 0);
  EXPECT_NE(
      get("/api/loadbalancers/web/backends/tokyo-2/explain")["reasons"].dump().find("weight is 0"),
      std::string::npos);

  json standby = get("/api/loadbalancers/web/backends/ireland-1/explain");
  EXPECT_EQ(standby.value("eligible", false), true) << standby.dump();
  EXPECT_EQ(standby.value("region", ""), kIreland);
  EXPECT_NE(standby["reasons"].dump().find("is not the active region"), std::string::npos)
      << standby.dump();

  for (const char* bad :
       {"{}", "not json", R"({"weight":1001})", R"({"weight":"5"})", R"({"state":"asleep"})"})
    expectError(call("PATCH", "/api/loadbalancers/web/backends/tokyo-1", bad), 400,
                "invalid_request");
  expectError(call("PATCH", "/api/loadbalancers/web/backends/nope", R"({"weight":1})"), 404,
              "not_found");
  expectError(call("PATCH", "/api/loadbalancers/nope/backends/tokyo-1", R"({"weight":1})"), 404,
              "not_found");
  expectError(call("GET", "/api/loadbalancers/web/backends/nope/explain"), 404, "not_found");
}

TEST_F(AdminGeoApi, ExplainNamesAFailingHealthCheck) {
  backends_[kTokyo][0]->stop();
  ASSERT_TRUE(pollUntil(
      [&] {
        json n = get("/api/loadbalancers/web/backends/tokyo-1/explain");
        return n.is_object() && n["health"].value("status", "") == "unhealthy";
      },
      deadlineIn(5000)));
  json why = get("/api/loadbalancers/web/backends/tokyo-1/explain");
  EXPECT_NE(why["reasons"].dump().find("health check failing"), std::string::npos) << why.dump();
  EXPECT_TRUE(why["health"]["since"].is_string()) << why.dump();
  EXPECT_EQ(why.value("region_status", ""), "degraded") << why.dump();
  EXPECT_EQ(get("/api/geo/nodes?status=unhealthy").size(), 1u);
  json health = get("/health");  // 200 and degraded: a region still serves
  EXPECT_EQ(health.value("status", ""), "degraded") << health.dump();
}

TEST_F(AdminGeoApi, HealthIs503OnlyWhenNoRegionServes) {
  json health = get("/health");
  EXPECT_EQ(health.value("status", ""), "healthy") << health.dump();
  EXPECT_EQ(health.value("mode", ""), "standalone");
  EXPECT_TRUE(health.contains("component") && health.contains("version"));
  EXPECT_TRUE(health["checks"].is_object());

  for (const RegionSpec& r : kRegions)
    for (auto& b : backends_[r.id])
      b->stop();
  ASSERT_TRUE(pollUntil([&] { return adminCall(admin_, "GET", "/health").status == 503; },
                        deadlineIn(5000)));
  Response r = adminCall(admin_, "GET", "/health");
  EXPECT_EQ(parseJson(r).value("status", ""), "unhealthy") << r.body;
  EXPECT_EQ(get("/api/geo/status").value("online_regions", -1), 0);
}

TEST_F(AdminGeoApi, ConfigReloadAnswersWithChangesOrTheError) {
  TestBackend extra("ireland-3");
  lb_.dir().write(
      "fiberlb.toml",
      lb_.renderConfig(config({{"ireland-3", extra.port(), 100, "127.0.0.1", kIreland}})));
  const size_t reloads_before = lb_.process().countLines("config reloaded");
  Response r = call("POST", "/api/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = parseJson(r);
  EXPECT_EQ(j.value("status", ""), "reloaded");
  ASSERT_TRUE(j["changes"].is_object()) << r.body;
  for (const char* key : {"added", "removed", "modified"})
    EXPECT_TRUE(j["changes"][key].is_array()) << key << ": " << r.body;
  // A file watcher may have applied the change first; then this reload has nothing to add.
  const bool listed = j["changes"]["added"].dump().find("ireland-3") != std::string::npos;
  EXPECT_TRUE(listed || lb_.process().countLines("config reloaded") > reloads_before + 1) << r.body;
  EXPECT_EQ(get("/api/geo/nodes?region_id=" + kIreland).size(), 3u);

  lb_.dir().write("fiberlb.toml", "[standalone.server]\nworkers = \"many\"\n");
  expectError(call("POST", "/api/config/reload"), 400, "invalid_config");
  EXPECT_EQ(get("/api/geo/nodes").size(), 7u) << "the running config must stay";
  EXPECT_EQ(call("PUT", "/api/config/reload").status, 405);
}

TEST(AdminGeoApiAuth, TheTokenGuardsChangesButNotReads) {
  TestBackend a("a");
  FiberlbProcess lb;
  std::string toml = lb.renderConfig(singleLb({{"a", a.port()}}));
  const std::string server = "[standalone.server]\n";
  toml.replace(toml.find(server), server.size(), server + "admin_token = \"s3cret\"\n");
  ASSERT_TRUE(lb.startWithFile(lb.dir().write("fiberlb.toml", toml), {}));
  static const std::regex kAddr(R"(admin API listening addr=(\S+):(\d+))");
  auto line = lb.process().waitForLine("admin API listening addr=", deadlineIn(5000));
  std::smatch m;
  ASSERT_TRUE(line && std::regex_search(*line, m, kAddr));
  const auto port = static_cast<uint16_t>(std::stoi(m[2].str()));

  for (const char* path : {"/health", "/metrics", "/api/geo/status", "/api/loadbalancers"})
    EXPECT_EQ(adminCall(port, "GET", path).status, 200) << path;

  const std::string patch = R"({"weight":5})";
  const std::string path = "/api/loadbalancers/web/backends/a";
  Response none = adminCall(port, "PATCH", path, patch);
  expectError(none, 401, "unauthorized");
  EXPECT_NE(none.header("WWW-Authenticate").value_or("").find("Bearer"), std::string::npos);
  expectError(adminCall(port, "PATCH", path, patch, "Authorization: Bearer wrong\r\n"), 401,
              "unauthorized");
  expectError(adminCall(port, "POST", "/api/config/reload"), 401, "unauthorized");
  expectError(adminCall(port, "DELETE", "/api/geo/nodes/a"), 401, "unauthorized");

  Response ok = adminCall(port, "PATCH", path, patch, "Authorization: Bearer s3cret\r\n");
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(parseJson(ok).value("weight", 0), 5);
  json lbs = parseJson(adminCall(port, "GET", "/api/loadbalancers"));
  EXPECT_EQ(lbs[0]["backends"][0].value("weight", 0), 5) << lbs.dump();
}

}  // namespace
}  // namespace fiberlb::testing
