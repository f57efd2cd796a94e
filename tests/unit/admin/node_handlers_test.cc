// /api/geo/nodes: list with filters, add, delete.

#include <gtest/gtest.h>

#include "tests/unit/admin/fake_admin.h"

namespace fiberlb::admin::testing {
namespace {

std::vector<std::string> ids(const Json& list) {
  std::vector<std::string> out;
  for (const Json& n : list)
    out.push_back(n["node_id"]);
  return out;
}

TEST(NodeHandlers, ListsEveryBackendAsANode) {
  FakeAdmin admin;
  admin.state("web", "t1").active_requests = 3;
  admin.state("web", "t1").requests_total = 42;
  Response r = admin.call("GET", "/api/geo/nodes");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(ids(j), (std::vector<std::string>{"t1", "t2", "v1", "v2", "e1"}));
  const Json& t1 = j[0];
  EXPECT_EQ(t1["loadbalancer"], "web");
  EXPECT_EQ(t1["region_id"], "ap-northeast-1");
  EXPECT_EQ(t1["endpoint"], "127.0.0.1:8001");
  EXPECT_EQ(t1["weight"], 100);
  EXPECT_EQ(t1["effective_weight"], 100);
  EXPECT_EQ(t1["health"], "unknown");
  EXPECT_EQ(t1["circuit"], "closed");
  EXPECT_EQ(t1["admin_state"], "enabled");
  EXPECT_EQ(t1["eligible"], true);
  EXPECT_EQ(t1["in_rotation"], true);
  EXPECT_EQ(t1["active_requests"], 3);
  EXPECT_EQ(t1["requests_total"], 42);
  for (const char* key : {"node_type", "health_reason", "last_check", "failures_total"})
    EXPECT_TRUE(t1.contains(key)) << key;
  // Eligible but not in the active region: no effective weight.
  EXPECT_EQ(j[2]["in_rotation"], false);
  EXPECT_FALSE(j[2].contains("effective_weight"));
}

TEST(NodeHandlers, ShowTheRealCircuit) {
  FakeAdmin admin;
  const Json closed = body(admin.call("GET", "/api/geo/nodes"))[0];
  EXPECT_EQ(closed["circuit"], "closed");
  EXPECT_EQ(closed["consecutive_failures"], 0);
  EXPECT_TRUE(closed["circuit_since"].is_null());

  admin.openCircuit("t1", 1795546923000);  // 2026-11-24T19:02:03Z
  Json j = body(admin.call("GET", "/api/geo/nodes"));
  EXPECT_EQ(j[0]["node_id"], "t1");
  EXPECT_EQ(j[0]["circuit"], "open");
  EXPECT_EQ(j[0]["consecutive_failures"], 5);
  EXPECT_EQ(j[0]["circuit_since"], "2026-11-24T19:02:03.000Z");
  EXPECT_EQ(j[0]["eligible"], false);
  EXPECT_EQ(j[0]["in_rotation"], false);
  EXPECT_EQ(j[1]["circuit"], "closed");
  EXPECT_EQ(ids(body(admin.call("GET", "/api/geo/nodes?status=ineligible"))),
            std::vector<std::string>{"t1"});

  admin.halfOpenCircuit("t1", 1795546983000);  // 60 s later
  j = body(admin.call("GET", "/api/geo/nodes"));
  EXPECT_EQ(j[0]["circuit"], "half_open");
  EXPECT_EQ(j[0]["consecutive_failures"], 0);
  EXPECT_EQ(j[0]["circuit_since"], "2026-11-24T19:03:03.000Z");
  EXPECT_EQ(j[0]["eligible"], true);  // half-open admits its trial requests
}

TEST(NodeHandlers, CircuitSinceIsNullUntilTheControlLoopSeesTheChange) {
  FakeAdmin admin;
  admin.openCircuit("t2", 0);
  const Json t2 = body(admin.call("GET", "/api/geo/nodes"))[1];
  EXPECT_EQ(t2["circuit"], "open");
  EXPECT_TRUE(t2["circuit_since"].is_null());
}

TEST(NodeHandlers, FiltersByRegionAndStatus) {
  FakeAdmin admin;
  admin.mutableConfig().loadbalancers[0].backends[1].state = config::AdminState::Drain;  // t2
  admin.publish();
  admin.state("web", "v1").health.health = lb::Health::Unhealthy;
  admin.publish();

  auto list = [&](const std::string& query) {
    return ids(body(admin.call("GET", "/api/geo/nodes?" + query)));
  };
  EXPECT_EQ(list("region_id=ap-northeast-1"), (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(list("region_id=nowhere"), std::vector<std::string>{});
  EXPECT_EQ(list("status=drain"), std::vector<std::string>{"t2"});
  EXPECT_EQ(list("status=unhealthy"), std::vector<std::string>{"v1"});
  EXPECT_EQ(list("status=ineligible"), (std::vector<std::string>{"t2", "v1"}));
  EXPECT_EQ(list("status=eligible&region_id=us-east-1"), std::vector<std::string>{"v2"});
  EXPECT_EQ(list("status=enabled&region_id=ap-northeast-1"), std::vector<std::string>{"t1"});
  EXPECT_EQ(list("status=unknown").size(), 4u);

  Response bad = admin.call("GET", "/api/geo/nodes?status=sleepy");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(body(bad)["error"], "invalid_request");
  EXPECT_NE(body(bad)["message"].get<std::string>().find("sleepy"), std::string::npos);
}

TEST(NodeHandlers, PostAddsANode) {
  FakeAdmin admin;
  Response r =
      admin.call("POST", "/api/geo/nodes",
                 R"({"node_id":"t3","region_id":"ap-northeast-1","endpoint":"127.0.0.1:8009",
                              "node_type":"compute","weight":50})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["node_id"], "t3");
  EXPECT_EQ(j["loadbalancer"], "web");
  EXPECT_EQ(j["endpoint"], "127.0.0.1:8009");
  EXPECT_EQ(j["node_type"], "compute");
  EXPECT_EQ(j["weight"], 50);
  EXPECT_EQ(j["in_rotation"], true);
  ASSERT_EQ(admin.calls.size(), 1u);
  EXPECT_EQ(admin.calls[0], "addNode /t3 127.0.0.1:8009 w50 ap-northeast-1 compute");

  Response v6 = admin.call("POST", "/api/geo/nodes",
                           R"({"node_id":"t4","region_id":"ap-northeast-1","endpoint":"[::1]:8010",
                               "loadbalancer":"web"})");
  ASSERT_EQ(v6.status, 201) << v6.body;
  EXPECT_EQ(body(v6)["endpoint"], "[::1]:8010");
  EXPECT_EQ(body(v6)["weight"], 100);
  EXPECT_EQ(admin.calls[1], "addNode web/t4 ::1:8010 w100 ap-northeast-1 ");
}

TEST(NodeHandlers, PostRejectsBadInput) {
  FakeAdmin admin;
  const std::string ok_rest = R"("region_id":"ap-northeast-1","endpoint":"127.0.0.1:80")";
  struct Case {
    std::string body;
    const char* mentions;
  };
  for (const Case& c : {
           Case{"{", "JSON"},
           Case{"{" + ok_rest + "}", "node_id"},
           Case{R"({"node_id":"n","endpoint":"127.0.0.1:80"})", "region_id"},
           Case{R"({"node_id":"n","region_id":"r"})", "endpoint"},
           Case{R"({"node_id":"n","region_id":"r","endpoint":"127.0.0.1"})", "endpoint"},
           Case{R"({"node_id":"n","region_id":"r","endpoint":"127.0.0.1:0"})", "endpoint"},
           Case{R"({"node_id":"n","region_id":"r","endpoint":"127.0.0.1:65536"})", "endpoint"},
           Case{R"({"node_id":"n","region_id":"r","endpoint":":80"})", "endpoint"},
           Case{R"({"node_id":"n","region_id":"r","endpoint":"::1:80"})", "endpoint"},
           Case{R"({"node_id":"n","region_id":"r","endpoint":"h:8x"})", "endpoint"},
           Case{R"({"node_id":"n","region_id":"r","endpoint":80})", "endpoint"},
           Case{R"({"node_id":"n",)" + ok_rest + R"(,"weight":1001})", "weight"},
           Case{R"({"node_id":"n",)" + ok_rest + R"(,"weight":-1})", "weight"},
           Case{R"({"node_id":"n",)" + ok_rest + R"(,"weight":"5"})", "weight"},
           Case{R"({"node_id":"n",)" + ok_rest + R"(,"loadbalancer":1})", "loadbalancer"},
           Case{R"({"node_id":"n",)" + ok_rest + R"(,"node_type":[]})", "node_type"},
       }) {
    Response r = admin.call("POST", "/api/geo/nodes", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    EXPECT_EQ(body(r)["error"], "invalid_request");
    EXPECT_NE(body(r).value("message", "").find(c.mentions), std::string::npos)
        << c.body << " -> " << r.body;
  }
  EXPECT_TRUE(admin.calls.empty());
}

TEST(NodeHandlers, PostMapsActionErrors) {
  FakeAdmin admin;
  const char* node = R"({"node_id":"t1","region_id":"ap-northeast-1","endpoint":"127.0.0.1:80"})";
  admin.next = ActionResult::fail(409, "conflict", "web already has a backend t1");
  Response r = admin.call("POST", "/api/geo/nodes", node);
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(body(r)["error"], "conflict");
  admin.next = ActionResult::fail(404, "not_found", "no region 'x'");
  EXPECT_EQ(admin.call("POST", "/api/geo/nodes", node).status, 404);
}

TEST(NodeHandlers, DeleteRemovesANode) {
  FakeAdmin admin;
  Response r = admin.call("DELETE", "/api/geo/nodes/t2?loadbalancer=web");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["node_id"], "t2");
  EXPECT_EQ(admin.calls.back(), "deleteNode web/t2");
  EXPECT_EQ(ids(body(admin.call("GET", "/api/geo/nodes?region_id=ap-northeast-1"))),
            std::vector<std::string>{"t1"});

  admin.next = ActionResult::fail(404, "not_found", "no node 'zz'");
  Response missing = admin.call("DELETE", "/api/geo/nodes/zz");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(body(missing)["error"], "not_found");
  EXPECT_EQ(admin.calls.back(), "deleteNode /zz");
}

}  // namespace
}  // namespace fiberlb::admin::testing
