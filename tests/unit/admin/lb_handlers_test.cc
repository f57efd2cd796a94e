// /api/loadbalancers: list, PATCH a backend, explain.

#include <gtest/gtest.h>

#include "tests/unit/admin/fake_admin.h"

namespace fiberlb::admin::testing {
namespace {

std::string joined(const Json& reasons) {
  std::string out;
  for (const Json& r : reasons)
    out += r.get<std::string>() + "\n";
  return out;
}

// The same cluster with active http checks: every backend healthy except as a test sets.
std::unique_ptr<FakeAdmin> checkedAdmin() {
  auto cfg = threeRegionConfig();
  cfg->loadbalancers[0].healthcheck.type = config::HealthCheckType::Http;
  cfg->loadbalancers[0].healthcheck.configured = true;
  auto admin = std::make_unique<FakeAdmin>(cfg);
  for (const char* name : {"t1", "t2", "v1", "v2", "e1"})
    admin->state("web", name).health.health = lb::Health::Healthy;
  admin->publish();
  return admin;
}

TEST(LbHandlers, ListsLoadBalancersWithBackendStates) {
  FakeAdmin admin;
  Response r = admin.call("GET", "/api/loadbalancers");
  ASSERT_EQ(r.status, 200);
  Json j = body(r);
  ASSERT_EQ(j.size(), 1u);
  EXPECT_EQ(j[0]["name"], "web");
  EXPECT_EQ(j[0]["routing_region"], "ap-northeast-1");
  EXPECT_EQ(j[0]["endpoints"], 2);
  ASSERT_EQ(j[0]["backends"].size(), 5u);
  const Json& t1 = j[0]["backends"][0];
  EXPECT_EQ(t1["name"], "t1");
  EXPECT_EQ(t1["admin_state"], "enabled");
  EXPECT_EQ(t1["circuit"], "closed");
  EXPECT_EQ(t1["health"], "unknown");
  EXPECT_EQ(t1["responses"]["2xx"], 0);
}

TEST(LbHandlers, ListShowsTheRealCircuit) {
  FakeAdmin admin;
  admin.openCircuit("t2", 1795546923000);  // 2026-11-24T19:02:03Z
  Json j = body(admin.call("GET", "/api/loadbalancers"));
  const Json& t2 = j[0]["backends"][1];
  EXPECT_EQ(t2["name"], "t2");
  EXPECT_EQ(t2["circuit"], "open");
  EXPECT_EQ(t2["consecutive_failures"], 5);
  EXPECT_EQ(t2["circuit_since"], "2026-11-24T19:02:03.000Z");
  EXPECT_EQ(t2["eligible"], false);
  EXPECT_EQ(j[0]["backends"][0]["circuit"], "closed");
  EXPECT_TRUE(j[0]["backends"][0]["circuit_since"].is_null());
  EXPECT_EQ(j[0]["endpoints"], 1);

  admin.halfOpenCircuit("t2", 1795546983000);
  j = body(admin.call("GET", "/api/loadbalancers"));
  EXPECT_EQ(j[0]["backends"][1]["circuit"], "half_open");
  EXPECT_EQ(j[0]["backends"][1]["eligible"], true);
}

TEST(LbHandlers, PatchChangesWeightAndStateAndAnswersTheNewBackend) {
  FakeAdmin admin;
  Response r = admin.call("PATCH", "/api/loadbalancers/web/backends/t1", R"({"weight":7})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["loadbalancer"], "web");
  EXPECT_EQ(body(r)["name"], "t1");
  EXPECT_EQ(body(r)["weight"], 7);
  EXPECT_EQ(admin.calls.back(), "patch web/t1 w7 -");

  r = admin.call("PATCH", "/api/loadbalancers/web/backends/t1", R"({"state":"drain"})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["admin_state"], "drain");
  EXPECT_EQ(body(r)["eligible"], false);
  EXPECT_EQ(admin.calls.back(), "patch web/t1 w- drain");

  r = admin.call("PATCH", "/api/loadbalancers/web/backends/t1",
                 R"({"state":"enabled","weight":0})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(admin.calls.back(), "patch web/t1 w0 enabled");
}

TEST(LbHandlers, PatchErrors) {
  FakeAdmin admin;
  for (const char* bad : {"", "{}", "[]", R"({"weight":1001})", R"({"weight":-1})",
                          R"({"weight":"5"})", R"({"weight":2.5})", R"({"state":"off"})",
                          R"({"state":1})", R"({"wieght":5})", R"({"weight":null})"}) {
    Response r = admin.call("PATCH", "/api/loadbalancers/web/backends/t1", bad);
    EXPECT_EQ(r.status, 400) << bad << " -> " << r.body;
    EXPECT_EQ(body(r)["error"], "invalid_request") << bad;
  }
  EXPECT_TRUE(admin.calls.empty());
  Response no_lb = admin.call("PATCH", "/api/loadbalancers/api/backends/t1", R"({"weight":1})");
  EXPECT_EQ(no_lb.status, 404);
  EXPECT_NE(body(no_lb)["message"].get<std::string>().find("api"), std::string::npos);
  EXPECT_EQ(admin.call("PATCH", "/api/loadbalancers/web/backends/zz", R"({"weight":1})").status,
            404);
  admin.next = ActionResult::fail(409, "conflict", "being removed");
  Response conflict = admin.call("PATCH", "/api/loadbalancers/web/backends/t1", R"({"weight":1})");
  EXPECT_EQ(conflict.status, 409);
  EXPECT_EQ(body(conflict)["error"], "conflict");
}

TEST(LbHandlers, ExplainAServingBackend) {
  auto admin = checkedAdmin();
  Response r = admin->call("GET", "/api/loadbalancers/web/backends/t1/explain");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["loadbalancer"], "web");
  EXPECT_EQ(j["backend"], "t1");
  EXPECT_EQ(j["eligible"], true);
  EXPECT_EQ(j["in_rotation"], true);
  EXPECT_EQ(j["reasons"], Json::array());
  EXPECT_NE(j["summary"].get<std::string>().find("serving"), std::string::npos);
  EXPECT_EQ(j["health"]["status"], "healthy");
  EXPECT_EQ(j["health"]["active_checks"], true);
  EXPECT_EQ(j["admin_state"], "enabled");
  EXPECT_EQ(j["weight"], 100);
  EXPECT_EQ(j["region"], "ap-northeast-1");
  EXPECT_EQ(j["region_status"], "online");
  EXPECT_EQ(j["active_region"], "ap-northeast-1");
}

TEST(LbHandlers, ExplainSaysWhyNot) {
  auto admin = checkedAdmin();
  lb::HealthRecord& h = admin->state("web", "t2").health;
  h.health = lb::Health::Unhealthy;
  h.reason = "3 consecutive http checks failed, last: connection refused";
  h.changed_unix_ms = 1795537889000;  // 2026-11-24T16:31:29Z
  auto& backends = admin->mutableConfig().loadbalancers[0].backends;
  backends[2].weight = 0;                            // v1
  backends[3].state = config::AdminState::Drain;     // v2
  backends[4].state = config::AdminState::Disabled;  // e1
  admin->publish();

  auto explain = [&](const std::string& name) {
    return body(admin->call("GET", "/api/loadbalancers/web/backends/" + name + "/explain"));
  };
  Json t2 = explain("t2");
  EXPECT_EQ(t2["eligible"], false);
  EXPECT_EQ(joined(t2["reasons"]),
            "health check failing: 3 consecutive http checks failed, last: connection refused "
            "(since 2026-11-24T16:31:29.000Z)\n");
  EXPECT_EQ(t2["health"]["since"], "2026-11-24T16:31:29.000Z");
  EXPECT_NE(t2["summary"].get<std::string>().find("no new traffic"), std::string::npos);

  const std::string v1 = joined(explain("v1")["reasons"]);
  EXPECT_NE(v1.find("weight is 0: it receives no new traffic"), std::string::npos) << v1;
  EXPECT_NE(v1.find("its region us-east-1 is not the active region (ap-northeast-1)"),
            std::string::npos)
      << v1;
  EXPECT_NE(joined(explain("v2")["reasons"]).find("drained by an operator"), std::string::npos);
  EXPECT_NE(joined(explain("e1")["reasons"]).find("disabled by an operator"), std::string::npos);
}

TEST(LbHandlers, ExplainAnOpenCircuit) {
  auto cfg = threeRegionConfig();
  cfg->loadbalancers[0].circuit_breaker.half_open_max_requests = 2;
  FakeAdmin admin(cfg);
  admin.openCircuit("t1", 1795546923000);  // 2026-11-24T19:02:03Z
  Json t1 = body(admin.call("GET", "/api/loadbalancers/web/backends/t1/explain"));
  EXPECT_EQ(t1["eligible"], false);
  EXPECT_EQ(t1["in_rotation"], false);
  EXPECT_EQ(joined(t1["reasons"]),
            "circuit open since 2026-11-24T19:02:03.000Z after 5 consecutive failures (last: "
            "status 502); half-open at 2026-11-24T19:03:03.000Z, then admits 2 trial requests "
            "(a success closes it, a failure opens it again)\n");
  const std::string summary = t1["summary"];
  EXPECT_NE(summary.find("t1 receives no new traffic: circuit open since"), std::string::npos)
      << summary;
  EXPECT_EQ(t1["circuit"], (Json{{"state", "open"},
                                 {"consecutive_failures", 5},
                                 {"failure_threshold", 5},
                                 {"last_failure", "status 502"},
                                 {"since", "2026-11-24T19:02:03.000Z"},
                                 {"half_open_at", "2026-11-24T19:03:03.000Z"},
                                 {"recovery_timeout_sec", 60.0},
                                 {"half_open_max_requests", 2}}));

  // Not yet seen by the control loop: no times, the delay instead. (With both Tokyo circuits
  // open, the LB routes to Virginia: a second reason follows.)
  admin.openCircuit("t2", 0);
  Json t2 = body(admin.call("GET", "/api/loadbalancers/web/backends/t2/explain"));
  EXPECT_EQ(t2["reasons"][0],
            "circuit open after 5 consecutive failures (last: status 502); half-open 60 s after "
            "it opened, then admits 2 trial requests (a success closes it, a failure opens it "
            "again)");
  EXPECT_TRUE(t2["circuit"]["since"].is_null());
  EXPECT_TRUE(t2["circuit"]["half_open_at"].is_null());
}

TEST(LbHandlers, ExplainAHalfOpenCircuit) {
  FakeAdmin admin;
  admin.openCircuit("t1", 1795546923000);
  admin.halfOpenCircuit("t1", 1795546983000);  // 2026-11-24T19:03:03Z
  Json t1 = body(admin.call("GET", "/api/loadbalancers/web/backends/t1/explain"));
  EXPECT_EQ(t1["eligible"], true);
  EXPECT_EQ(t1["in_rotation"], true);
  EXPECT_EQ(t1["reasons"], Json::array());
  EXPECT_NE(t1["summary"].get<std::string>().find("circuit half-open"), std::string::npos)
      << t1["summary"];
  EXPECT_EQ(t1["circuit"]["state"], "half_open");
  EXPECT_EQ(t1["circuit"]["consecutive_failures"], 0);
  EXPECT_EQ(t1["circuit"]["last_failure"], "status 502");
  EXPECT_EQ(t1["circuit"]["since"], "2026-11-24T19:03:03.000Z");
  EXPECT_TRUE(t1["circuit"]["half_open_at"].is_null());

  // A failed trial opens it again: the reason says so.
  lb::BackendState& s = admin.state("web", "t1");
  ASSERT_EQ(s.circuit.admit(), lb::Admission::Trial);
  s.circuit.recordFailure(lb::Admission::Trial, {lb::FailureCause::Refused, 0},
                          admin.currentConfig()->loadbalancers[0].circuit_breaker, 70000);
  s.circuit_record = {lb::CircuitState::Open, 1795546984000};
  admin.publish();
  t1 = body(admin.call("GET", "/api/loadbalancers/web/backends/t1/explain"));
  EXPECT_EQ(t1["eligible"], false);
  EXPECT_NE(joined(t1["reasons"])
                .find("circuit open since 2026-11-24T19:03:04.000Z after a failed trial request "
                      "(connection refused); half-open at 2026-11-24T19:04:04.000Z"),
            std::string::npos)
      << t1["reasons"];
}

TEST(LbHandlers, ExplainAClosedCircuit) {
  FakeAdmin admin;
  Json t1 = body(admin.call("GET", "/api/loadbalancers/web/backends/t1/explain"));
  EXPECT_EQ(t1["circuit"]["state"], "closed");
  EXPECT_TRUE(t1["circuit"]["last_failure"].is_null());
  EXPECT_TRUE(t1["circuit"]["since"].is_null());
}

TEST(LbHandlers, ExplainEligibleStandbyAndUnchecked) {
  auto admin = checkedAdmin();
  Json v1 = body(admin->call("GET", "/api/loadbalancers/web/backends/v1/explain"));
  EXPECT_EQ(v1["eligible"], true);
  EXPECT_EQ(v1["in_rotation"], false);
  EXPECT_EQ(joined(v1["reasons"]),
            "its region us-east-1 is not the active region (ap-northeast-1)\n");
  EXPECT_NE(v1["summary"].get<std::string>().find("standby"), std::string::npos);

  admin->state("web", "t1").health = lb::HealthRecord{};  // no result yet
  admin->publish();
  Json t1 = body(admin->call("GET", "/api/loadbalancers/web/backends/t1/explain"));
  EXPECT_EQ(joined(t1["reasons"]), "no health check result yet\n");
  EXPECT_TRUE(t1["health"]["since"].is_null());

  EXPECT_EQ(admin->call("GET", "/api/loadbalancers/web/backends/zz/explain").status, 404);
  EXPECT_EQ(admin->call("GET", "/api/loadbalancers/nope/backends/t1/explain").status, 404);
}

}  // namespace
}  // namespace fiberlb::admin::testing
