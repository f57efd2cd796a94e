// POST /api/geo/failover and GET /api/geo/failover/history.

#include <gtest/gtest.h>

#include "tests/unit/admin/fake_admin.h"

namespace fiberlb::admin::testing {
namespace {

TEST(FailoverHandlers, ManualFailoverReturnsTheEvent) {
  FakeAdmin admin;
  Response r = admin.call("POST", "/api/geo/failover",
                          R"({"from_region":"ap-northeast-1","to_region":"us-east-1",
                              "reason":"maintenance window","triggered_by":"alice"})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["status"], "failover_executed");
  const Json& e = j["event"];
  EXPECT_EQ(e["from_region"], "ap-northeast-1");
  EXPECT_EQ(e["to_region"], "us-east-1");
  EXPECT_EQ(e["reason"], "maintenance window");
  EXPECT_EQ(e["triggered_by"], "alice");
  EXPECT_EQ(e["success"], true);
  for (const char* key : {"event_id", "timestamp"})
    EXPECT_TRUE(e[key].is_string()) << key;
  EXPECT_EQ(body(admin.call("GET", "/api/geo/active-region"))["region_id"], "us-east-1");
}

TEST(FailoverHandlers, DefaultsReasonAndTrigger) {
  FakeAdmin admin;
  ASSERT_EQ(admin.call("POST", "/api/geo/failover", R"({"to_region":"eu-west-1"})").status, 200);
  EXPECT_EQ(admin.calls.back(), "failover >eu-west-1 manual failover api");
}

TEST(FailoverHandlers, ErrorsAre400404And409) {
  FakeAdmin admin;
  for (const char* bad : {"", "{}", R"({"to_region":""})", R"({"to_region":1})",
                          R"({"to_region":"us-east-1","reason":false})"}) {
    Response r = admin.call("POST", "/api/geo/failover", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(body(r)["error"], "invalid_request") << bad;
  }
  Response unknown = admin.call("POST", "/api/geo/failover", R"({"to_region":"mars-1"})");
  EXPECT_EQ(unknown.status, 404) << unknown.body;
  Response same = admin.call("POST", "/api/geo/failover", R"({"to_region":"ap-northeast-1"})");
  EXPECT_EQ(same.status, 409) << same.body;
  EXPECT_EQ(body(same)["error"], "conflict");
  Response wrong_from = admin.call("POST", "/api/geo/failover",
                                   R"({"from_region":"eu-west-1","to_region":"us-east-1"})");
  EXPECT_EQ(wrong_from.status, 409) << wrong_from.body;
}

TEST(FailoverHandlers, HistoryIsNewestFirstAndLimited) {
  FakeAdmin admin;
  EXPECT_EQ(body(admin.call("GET", "/api/geo/failover/history")), Json::array());
  for (const char* to : {"us-east-1", "eu-west-1", "ap-northeast-1"})
    ASSERT_EQ(admin.call("POST", "/api/geo/failover", std::string(R"({"to_region":")") + to + "\"}")
                  .status,
              200);
  Json all = body(admin.call("GET", "/api/geo/failover/history"));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0]["to_region"], "ap-northeast-1");
  EXPECT_EQ(all[2]["to_region"], "us-east-1");
  Json two = body(admin.call("GET", "/api/geo/failover/history?limit=2"));
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[0]["to_region"], "ap-northeast-1");
  EXPECT_EQ(body(admin.call("GET", "/api/geo/failover/history?limit=99999999999999999999")).size(),
            3u);
  for (const char* bad : {"0", "-1", "abc", "", "2.5", "+3", "3x"}) {
    Response r = admin.call("GET", std::string("/api/geo/failover/history?limit=") + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(body(r)["error"], "invalid_request") << bad;
  }
}

}  // namespace
}  // namespace fiberlb::admin::testing
