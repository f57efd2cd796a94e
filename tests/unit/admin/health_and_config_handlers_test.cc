// GET /health, POST /api/config/reload and GET /api/config/reload.

#include <gtest/gtest.h>

#include "src/version.h"
#include "tests/unit/admin/fake_admin.h"

namespace fiberlb::admin::testing {
namespace {

TEST(HealthHandler, HealthyWhenEveryRegionIsOnline) {
  FakeAdmin admin;
  Response r = admin.call("GET", "/health");
  ASSERT_EQ(r.status, 200);
  Json j = body(r);
  EXPECT_EQ(j["status"], "healthy");
  EXPECT_EQ(j["mode"], "standalone");
  EXPECT_EQ(j["component"], "unit-admin");
  EXPECT_EQ(j["version"], kVersion);
  EXPECT_EQ(j["checks"]["online_regions"], 3);
  EXPECT_EQ(j["checks"]["region_status"]["us-east-1"], "online");
}

TEST(HealthHandler, DegradedWhenARegionOrBackendIsOut) {
  FakeAdmin admin;
  admin.mutableConfig().loadbalancers[0].backends[4].weight = 0;  // Ireland offline
  admin.publish();
  Response r = admin.call("GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body(r)["status"], "degraded");

  FakeAdmin one_out;
  one_out.mutableConfig().loadbalancers[0].backends[0].state = config::AdminState::Drain;
  one_out.publish();
  EXPECT_EQ(body(one_out.call("GET", "/health"))["status"], "degraded");
}

TEST(HealthHandler, Unhealthy503WhenNoRegionServes) {
  FakeAdmin admin;
  for (config::Backend& b : admin.mutableConfig().loadbalancers[0].backends)
    b.weight = 0;
  admin.publish();
  Response r = admin.call("GET", "/health");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(body(r)["status"], "unhealthy");
  EXPECT_EQ(body(r)["checks"]["online_regions"], 0);
}

TEST(ConfigHandler, ReloadListsTheChanges) {
  FakeAdmin admin;
  Response r = admin.call("POST", "/api/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  EXPECT_EQ(j["status"], "reloaded");
  EXPECT_EQ(j["changes"]["added"], Json::parse(R"(["web/new"])"));
  EXPECT_EQ(j["changes"]["removed"], Json::array());
  EXPECT_EQ(j["changes"]["modified"], Json::parse(R"(["web/t1"])"));
}

TEST(ConfigHandler, InvalidConfigIs400WithTheDiagnostics) {
  FakeAdmin admin;
  admin.next = ActionResult::fail(400, "invalid_config",
                                  "fiberlb.toml:3:8: standalone.loadbalancers[0].port: required");
  Response r = admin.call("POST", "/api/config/reload");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(body(r)["error"], "invalid_config");
  EXPECT_NE(body(r)["message"].get<std::string>().find("fiberlb.toml:3:8"), std::string::npos);
  EXPECT_EQ(admin.call("PUT", "/api/config/reload").status, 405);
}

TEST(ConfigHandler, ReloadStatusIsNullBeforeAnyReload) {
  FakeAdmin admin;
  admin.counters.config_path = "/etc/fiberlb/config.toml";
  admin.counters.watching_config = true;
  Response r = admin.call("GET", "/api/config/reload");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = body(r);
  EXPECT_TRUE(j["last_reload"].is_null());
  EXPECT_EQ(j["config_path"], "/etc/fiberlb/config.toml");
  EXPECT_EQ(j["watching"], true);
  EXPECT_TRUE(body(admin.call("GET", "/health"))["checks"]["last_reload"].is_null());
}

TEST(ConfigHandler, ReloadStatusShowsTheLastFailureAndHealthSaysSo) {
  FakeAdmin admin;
  ReloadOutcome failed;
  failed.trigger = "file";
  failed.ok = false;
  failed.error = "fiberlb.toml:3:8: standalone.loadbalancers[0].port: required";
  failed.at_unix_ms = 1764000000000;
  admin.counters.last_reload = failed;
  Json j = body(admin.call("GET", "/api/config/reload"));
  EXPECT_EQ(j["last_reload"]["trigger"], "file");
  EXPECT_EQ(j["last_reload"]["result"], "failure");
  EXPECT_EQ(j["last_reload"]["error"], failed.error);
  EXPECT_EQ(j["last_reload"]["at"], "2025-11-24T16:00:00.000Z");
  Json health = body(admin.call("GET", "/health"));
  EXPECT_EQ(health["checks"]["last_reload"], "failure");
  EXPECT_EQ(health["status"], "healthy");  // a failed edit changes nothing that serves
}

TEST(ConfigHandler, ReloadStatusListsTheChangesOfASuccess) {
  FakeAdmin admin;
  ReloadOutcome ok;
  ok.trigger = "signal";
  ok.ok = true;
  ok.changes.added = {"web/new"};
  ok.warnings = {
      "fiberlb.toml:7:1: standalone.loadbalancers[0].methd: unknown key 'methd' "
      "(ignored); did you mean 'method'?"};
  admin.counters.last_reload = ok;
  Json j = body(admin.call("GET", "/api/config/reload"));
  EXPECT_EQ(j["last_reload"]["result"], "success");
  EXPECT_EQ(j["last_reload"]["error"], "");
  EXPECT_EQ(j["last_reload"]["changes"]["added"], Json::parse(R"(["web/new"])"));
  EXPECT_EQ(j["last_reload"]["warnings"], Json(ok.warnings));
  EXPECT_EQ(body(admin.call("GET", "/health"))["checks"]["last_reload"], "success");
}

}  // namespace
}  // namespace fiberlb::admin::testing
