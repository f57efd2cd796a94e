#include "src/admin/auth.h"

#include <gtest/gtest.h>

#include "tests/unit/admin/fake_admin.h"

namespace fiberlb::admin::testing {
namespace {

Request request(std::string method, std::vector<std::pair<std::string, std::string>> headers = {}) {
  Request r;
  r.method = std::move(method);
  r.path = "/api/geo/failover";
  r.headers = std::move(headers);
  return r;
}

TEST(AdminAuth, ConstantTimeEqualsComparesWholeStrings) {
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals("s3cret", "s3cret"));
  EXPECT_FALSE(constantTimeEquals("s3cret", "s3creT"));
  EXPECT_FALSE(constantTimeEquals("s3cre", "s3cret"));
  EXPECT_FALSE(constantTimeEquals("s3cret!", "s3cret"));
  EXPECT_FALSE(constantTimeEquals("", "x"));
  EXPECT_FALSE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(AdminAuth, NoTokenConfiguredLetsEverythingThrough) {
  EXPECT_FALSE(checkAdminToken(request("POST"), "").has_value());
  EXPECT_FALSE(checkAdminToken(request("DELETE"), "").has_value());
}

TEST(AdminAuth, ReadsNeedNoToken) {
  EXPECT_FALSE(checkAdminToken(request("GET"), "tok").has_value());
  EXPECT_FALSE(checkAdminToken(request("HEAD"), "tok").has_value());
}

TEST(AdminAuth, ChangesNeedTheBearerToken) {
  for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS"}) {
    std::optional<Response> denied = checkAdminToken(request(method), "tok");
    ASSERT_TRUE(denied.has_value()) << method;
    EXPECT_EQ(denied->status, 401);
    EXPECT_EQ(body(*denied)["error"], "unauthorized");
    EXPECT_FALSE(body(*denied)["message"].get<std::string>().empty());
    ASSERT_EQ(denied->headers.size(), 1u);
    EXPECT_EQ(denied->headers[0].first, "WWW-Authenticate");
    EXPECT_EQ(denied->headers[0].second, "Bearer");
  }
  EXPECT_FALSE(checkAdminToken(request("POST", {{"authorization", "Bearer tok"}}), "tok"));
  EXPECT_FALSE(checkAdminToken(request("POST", {{"authorization", "bearer   tok "}}), "tok"));
  EXPECT_TRUE(checkAdminToken(request("POST", {{"authorization", "Bearer tok2"}}), "tok"));
  EXPECT_TRUE(checkAdminToken(request("POST", {{"authorization", "Bearer to"}}), "tok"));
  EXPECT_TRUE(checkAdminToken(request("POST", {{"authorization", "Basic tok"}}), "tok"));
  EXPECT_TRUE(checkAdminToken(request("POST", {{"authorization", "Bearertok"}}), "tok"));
  EXPECT_TRUE(checkAdminToken(request("POST", {{"authorization", "Bearer "}}), "tok"));
  EXPECT_TRUE(checkAdminToken(request("POST", {{"authorization", "tok"}}), "tok"));
}

TEST(AdminAuth, RouterGuardsEveryChangeWithTheCurrentToken) {
  FakeAdmin admin;
  admin.mutableConfig().server.admin_token = "tok";
  admin.publish();

  EXPECT_EQ(admin.call("GET", "/api/geo/status").status, 200);
  EXPECT_EQ(admin.call("GET", "/metrics").status, 200);
  Response denied = admin.call("POST", "/api/config/reload");
  EXPECT_EQ(denied.status, 401);
  EXPECT_EQ(body(denied)["error"], "unauthorized");
  EXPECT_EQ(admin.call("PUT", "/api/geo/active-region", R"({"region_id":"us-east-1"})").status,
            401);
  EXPECT_EQ(admin.call("PATCH", "/api/loadbalancers/web/backends/t1", R"({"weight":1})").status,
            401);
  EXPECT_EQ(admin.call("DELETE", "/api/geo/nodes/t1").status, 401);
  EXPECT_TRUE(admin.calls.empty()) << "an action ran without the token";

  EXPECT_EQ(admin.call("POST", "/api/config/reload", "", {{"authorization", "Bearer tok"}}).status,
            200);
  EXPECT_EQ(admin.calls.size(), 1u);

  // A reload that changes the token applies to the next request.
  admin.mutableConfig().server.admin_token = "new";
  EXPECT_EQ(admin.call("POST", "/api/config/reload", "", {{"authorization", "Bearer tok"}}).status,
            401);
  EXPECT_EQ(admin.call("POST", "/api/config/reload", "", {{"authorization", "Bearer new"}}).status,
            200);
}

}  // namespace
}  // namespace fiberlb::admin::testing
