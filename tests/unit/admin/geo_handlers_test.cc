// Geo endpoints through the routes: status, regions CRUD, latency matrix, replication group,
// active region.

#include <gtest/gtest.h>

#include <cmath>

#include "lb/geo_math.h"
#include "tests/unit/admin/fake_admin.h"

namespace fiberlb::admin::testing {
namespace {

void expectError(const Response& r, int status, const std::string& code) {
  EXPECT_EQ(r.status, status) << r.body;
  Json j = body(r);
  EXPECT_EQ(j.value("error", ""), code) << r.body;
  EXPECT_FALSE(j.value("message", "").empty()) << r.body;
}

TEST(GeoHandlers, StatusCountsRegionsNodesAndTheActiveOne) {
  FakeAdmin admin;
  admin.mutableConfig().loadbalancers[0].backends[4].weight = 0;  // e1: Ireland offline
  admin.mutableConfig().loadbalancers[0].backends[3].weight = 0;  // v2: Virginia degraded
  admin.publish();
  Response r = admin.call("GET", "/api/geo/status");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["active_region"], "ap-northeast-1");
  EXPECT_EQ(j["total_regions"], 3);
  EXPECT_EQ(j["total_nodes"], 5);
  EXPECT_EQ(j["online_regions"], 2);
  EXPECT_EQ(j["regions"]["ap-northeast-1"]["status"], "online");
  EXPECT_EQ(j["regions"]["ap-northeast-1"]["node_count"], 2);
  EXPECT_EQ(j["regions"]["ap-northeast-1"]["priority"], 1);
  EXPECT_EQ(j["regions"]["ap-northeast-1"]["active"], true);
  EXPECT_EQ(j["regions"]["us-east-1"]["status"], "degraded");
  EXPECT_EQ(j["regions"]["eu-west-1"]["status"], "offline");
}

TEST(GeoHandlers, RegionsListAndOne) {
  FakeAdmin admin;
  Response list = admin.call("GET", "/api/geo/regions");
  ASSERT_EQ(list.status, 200);
  Json j = body(list);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0]["region_id"], "ap-northeast-1");
  EXPECT_EQ(j[0]["display_name"], "ap-northeast-1 display");
  EXPECT_EQ(j[0]["provider"], "aws");
  EXPECT_DOUBLE_EQ(j[0]["location"]["lat"].get<double>(), 35.68);
  EXPECT_DOUBLE_EQ(j[0]["location"]["lon"].get<double>(), 139.69);
  EXPECT_EQ(j[0]["status"], "online");
  EXPECT_EQ(j[2]["region_id"], "eu-west-1");

  Response one = admin.call("GET", "/api/geo/regions/us-east-1");
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(body(one)["region_id"], "us-east-1");
  EXPECT_EQ(body(one)["node_count"], 2);
  expectError(admin.call("GET", "/api/geo/regions/mars-1"), 404, "not_found");
}

TEST(GeoHandlers, PostRegionCreatesIt) {
  FakeAdmin admin;
  Response r = admin.call("POST", "/api/geo/regions",
                          R"({"region_id":"us-west-2","display_name":"Oregon","provider":"aws",
                              "location":{"lat":45.52,"lon":-122.68},"priority":3})");
  ASSERT_EQ(r.status, 201) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["region_id"], "us-west-2");
  EXPECT_EQ(j["display_name"], "Oregon");
  EXPECT_DOUBLE_EQ(j["location"]["lon"].get<double>(), -122.68);
  EXPECT_EQ(j["priority"], 3);
  EXPECT_EQ(j["node_count"], 0);
  EXPECT_EQ(admin.call("GET", "/api/geo/regions/us-west-2").status, 200);
}

TEST(GeoHandlers, PostRegionRejectsBadInputWithTheFieldNamed) {
  FakeAdmin admin;
  struct Case {
    const char* body;
    const char* mentions;
  };
  for (const Case& c : {
           Case{"{not json", "JSON"},
           Case{"[1,2]", "object"},
           Case{"", "JSON"},
           Case{R"({"display_name":"x"})", "region_id"},
           Case{R"({"region_id":""})", "region_id"},
           Case{R"({"region_id":7})", "region_id"},
           Case{R"({"region_id":"a b"})", "region_id"},
           Case{R"({"region_id":"a/b"})", "region_id"},
           Case{R"({"region_id":"x","location":{"lat":91,"lon":0}})", "location.lat"},
           Case{R"({"region_id":"x","location":{"lat":0,"lon":-180.5}})", "location.lon"},
           Case{R"({"region_id":"x","location":{"lat":"1","lon":0}})", "location.lat"},
           Case{R"({"region_id":"x","location":{"lat":1}})", "location.lon"},
           Case{R"({"region_id":"x","location":[1,2]})", "location"},
           Case{R"({"region_id":"x","priority":1.5})", "priority"},
           Case{R"({"region_id":"x","priority":"1"})", "priority"},
           Case{R"({"region_id":"x","priority":-1})", "priority"},
           Case{R"({"region_id":"x","display_name":5})", "display_name"},
       }) {
    Response r = admin.call("POST", "/api/geo/regions", c.body);
    expectError(r, 400, "invalid_request");
    EXPECT_NE(body(r).value("message", "").find(c.mentions), std::string::npos)
        << c.body << " -> " << r.body;
  }
  EXPECT_TRUE(admin.calls.empty());
}

TEST(GeoHandlers, PostRegionMapsActionConflict) {
  FakeAdmin admin;
  admin.next = ActionResult::fail(409, "conflict", "region us-east-1 already exists");
  Response r = admin.call("POST", "/api/geo/regions", R"({"region_id":"us-east-1"})");
  expectError(r, 409, "conflict");
  EXPECT_EQ(body(r)["message"], "region us-east-1 already exists");
}

TEST(GeoHandlers, DeleteRegionAndItsErrors) {
  FakeAdmin admin;
  admin.mutableConfig().geo.regions.push_back(region("empty-1", 9, 0, 0));
  admin.publish();
  Response r = admin.call("DELETE", "/api/geo/regions/empty-1");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["region_id"], "empty-1");
  EXPECT_EQ(admin.call("GET", "/api/geo/regions/empty-1").status, 404);

  admin.next = ActionResult::fail(409, "conflict", "region us-east-1 holds 2 backends");
  expectError(admin.call("DELETE", "/api/geo/regions/us-east-1"), 409, "conflict");
  admin.next = ActionResult::fail(404, "not_found", "no region 'nope'");
  expectError(admin.call("DELETE", "/api/geo/regions/nope"), 404, "not_found");
}

TEST(GeoHandlers, LatencyMatrixIsRoundedAndSymmetricWithAZeroDiagonal) {
  FakeAdmin admin;
  Response r = admin.call("GET", "/api/geo/latency-matrix");
  ASSERT_EQ(r.status, 200);
  Json j = body(r);
  ASSERT_EQ(j["regions"].size(), 3u);
  const Json& m = j["matrix"];
  EXPECT_EQ(m["ap-northeast-1"]["ap-northeast-1"], 0.0);
  const double tokyo_virginia = m["ap-northeast-1"]["us-east-1"].get<double>();
  EXPECT_NEAR(tokyo_virginia, 54.4, 0.1);
  EXPECT_DOUBLE_EQ(tokyo_virginia, std::round(tokyo_virginia * 100) / 100);
  EXPECT_DOUBLE_EQ(tokyo_virginia, m["us-east-1"]["ap-northeast-1"].get<double>());
  EXPECT_EQ(m["eu-west-1"].size(), 3u);
}

TEST(GeoHandlers, ReplicationGroupIsTheNearestOthers) {
  FakeAdmin admin;
  Response r = admin.call("GET", "/api/geo/replication-group/us-east-1");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["source_region"], "us-east-1");
  // Ireland is nearer to Virginia than Tokyo is.
  EXPECT_EQ(j["replication_targets"], Json::parse(R"(["eu-west-1","ap-northeast-1"])"));
  EXPECT_LT(j["latencies_ms"]["eu-west-1"].get<double>(),
            j["latencies_ms"]["ap-northeast-1"].get<double>());

  admin.mutableConfig().geo.replication_group_size = 1;
  EXPECT_EQ(
      body(admin.call("GET", "/api/geo/replication-group/us-east-1"))["replication_targets"].size(),
      1u);
  expectError(admin.call("GET", "/api/geo/replication-group/mars-1"), 404, "not_found");
}

TEST(GeoHandlers, ActiveRegionGetAndPut) {
  FakeAdmin admin;
  EXPECT_EQ(body(admin.call("GET", "/api/geo/active-region"))["region_id"], "ap-northeast-1");

  Response r = admin.call("PUT", "/api/geo/active-region", R"({"region_id":"us-east-1"})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["region_id"], "us-east-1");
  EXPECT_EQ(j["previous_region"], "ap-northeast-1");
  EXPECT_EQ(j["event"]["from_region"], "ap-northeast-1");
  EXPECT_EQ(j["event"]["to_region"], "us-east-1");
  EXPECT_EQ(j["event"]["triggered_by"], "api");
  EXPECT_EQ(j["event"]["success"], true);
  EXPECT_EQ(j["event"]["event_id"].get<std::string>().size(), 36u);
  EXPECT_EQ(j["event"]["timestamp"].get<std::string>().back(), 'Z');
  EXPECT_EQ(body(admin.call("GET", "/api/geo/active-region"))["region_id"], "us-east-1");

  // Idempotent: the same region again changes nothing.
  Response again = admin.call("PUT", "/api/geo/active-region", R"({"region_id":"us-east-1"})");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(body(again)["event"].is_null());
  EXPECT_EQ(admin.calls.size(), 1u);

  expectError(admin.call("PUT", "/api/geo/active-region", R"({"region":"us-east-1"})"), 400,
              "invalid_request");
  expectError(admin.call("PUT", "/api/geo/active-region", "nope"), 400, "invalid_request");
  expectError(admin.call("PUT", "/api/geo/active-region", R"({"region_id":"mars-1"})"), 404,
              "not_found");
}

TEST(GeoHandlers, ActiveRegionIsNullWhenNothingCanBeRouted) {
  auto cfg = threeRegionConfig();
  for (config::Backend& b : cfg->loadbalancers[0].backends)
    b.weight = 0;
  FakeAdmin admin(cfg);
  EXPECT_TRUE(body(admin.call("GET", "/api/geo/active-region"))["region_id"].is_null());
  EXPECT_EQ(body(admin.call("GET", "/api/geo/status"))["online_regions"], 0);
}

}  // namespace
}  // namespace fiberlb::admin::testing
