#include "lb/failover_manager.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace fiberlb::lb {
namespace {

using config::Failback;

constexpr int64_t kWallBase = 1795537889123;  // 2026-11-24T16:31:29.123Z

// Counts that statusOf() would map to `status`, so the reasons quote realistic numbers.
RegionCounts countsFor(RegionStatus status) {
  RegionCounts c;
  c.nodes = 3;
  switch (status) {
    case RegionStatus::Online:
      c.eligible = 3;
      break;
    case RegionStatus::Degraded:
      c.eligible = 2;
      break;
    case RegionStatus::Offline:
      c.eligible = 0;
      break;
    case RegionStatus::Maintenance:
      c.eligible = 3;
      c.maintenance = true;
      break;
    case RegionStatus::Unknown:
      c.awaiting_first_check = 3;
      break;
  }
  return c;
}

RegionState region(std::string id, int priority, RegionStatus status, double lat = 0,
                   double lon = 0) {
  RegionState r;
  r.id = std::move(id);
  r.priority = priority;
  r.latitude = lat;
  r.longitude = lon;
  r.status = status;
  r.counts = countsFor(status);
  return r;
}

LatencyMatrix matrixOf(const std::vector<RegionState>& regions) {
  std::vector<GeoPoint> points;
  for (const RegionState& r : regions)
    points.push_back({r.id, r.latitude, r.longitude});
  return LatencyMatrix(std::move(points));
}

void setStatus(std::vector<RegionState>& regions, const std::string& id, RegionStatus status) {
  for (RegionState& r : regions) {
    if (r.id != id) continue;
    r.status = status;
    r.counts = countsFor(status);
  }
}

bool isUuidV4(const std::string& s) {
  static const std::regex kUuid(
      "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
  return std::regex_match(s, kUuid);
}

// A manager plus a fake clock: `now` is the monotonic ms, the wall clock is kWallBase + now.
struct Harness {
  explicit Harness(std::vector<RegionState> rs, FailoverManager::Options options = {})
      : regions(std::move(rs)), latency(matrixOf(regions)) {
    manager.configure(options);
  }
  std::optional<FailoverEvent> evaluate() {
    return manager.evaluate(regions, latency, now, kWallBase + now);
  }
  std::optional<FailoverEvent> manual(std::string_view from, std::string_view to,
                                      std::string_view reason = "", std::string_view by = "alice") {
    return manager.manualSwitch(regions, from, to, reason, by, kWallBase + now, &error, &conflict);
  }
  void set(const std::string& id, RegionStatus status) { setStatus(regions, id, status); }

  std::vector<RegionState> regions;
  LatencyMatrix latency;
  FailoverManager manager;
  int64_t now = 0;
  std::string error;
  bool conflict = false;
};

FailoverManager::Options autoFailback(double hold_sec = 60) {
  FailoverManager::Options o;
  o.failback = Failback::Auto;
  o.failback_hold_sec = hold_sec;
  return o;
}

// ---------------------------------------------------------------------------------------
// Initial choice

TEST(FailoverManager, InitialChoiceIsBestServingRegionWithoutEvent) {
  Harness h({region("a", 2, RegionStatus::Online), region("b", 1, RegionStatus::Offline),
             region("d", 1, RegionStatus::Online), region("c", 1, RegionStatus::Degraded)});
  EXPECT_EQ(h.manager.active(), "");
  EXPECT_FALSE(h.evaluate().has_value());
  // Priority 1 first; degraded still serves; then id.
  EXPECT_EQ(h.manager.active(), "c");
  EXPECT_TRUE(h.manager.history().empty());
}

TEST(FailoverManager, InitialChoiceFallsBackToRegionThatMayComeUp) {
  Harness h({region("a", 1, RegionStatus::Offline), region("b", 2, RegionStatus::Maintenance),
             region("d", 3, RegionStatus::Unknown), region("c", 3, RegionStatus::Unknown)});
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "c");
  EXPECT_TRUE(h.manager.history().empty());
}

TEST(FailoverManager, InitialChoiceWaitsWhenEverythingIsDown) {
  Harness h({region("a", 1, RegionStatus::Offline), region("b", 2, RegionStatus::Maintenance)});
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "");
  // Once something comes up it is chosen.
  h.set("b", RegionStatus::Online);
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "b");
}

TEST(FailoverManager, SetInitialIsKept) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)});
  h.manager.setInitial("b");
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "b");
  EXPECT_TRUE(h.manager.history().empty());
}

// ---------------------------------------------------------------------------------------
// Automatic failover

TEST(FailoverManager, FailsOverToBestPriority) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 3, RegionStatus::Online),
             region("c", 2, RegionStatus::Degraded), region("d", 2, RegionStatus::Offline)});
  h.manager.setInitial("a");
  EXPECT_FALSE(h.evaluate().has_value());
  h.set("a", RegionStatus::Offline);
  h.now = 5000;
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(h.manager.active(), "c");
  EXPECT_EQ(e->from_region, "a");
  EXPECT_EQ(e->to_region, "c");
  EXPECT_EQ(e->triggered_by, "auto");
  EXPECT_TRUE(e->success);
  EXPECT_EQ(e->timestamp_unix_ms, kWallBase + 5000);
  EXPECT_TRUE(isUuidV4(e->event_id)) << e->event_id;
  EXPECT_NE(e->reason.find("region a offline: 0 of 3 backends eligible (failover_threshold 0.5)"),
            std::string::npos)
      << e->reason;
  EXPECT_NE(e->reason.find("c"), std::string::npos);
  ASSERT_EQ(h.manager.history().size(), 1u);
  EXPECT_EQ(h.manager.history().front().event_id, e->event_id);
  // Stable afterwards: no further switch.
  EXPECT_FALSE(h.evaluate().has_value());
}

TEST(FailoverManager, ReasonQuotesConfiguredThreshold) {
  FailoverManager::Options o;
  o.failover_threshold = 0.75;
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)}, o);
  h.manager.setInitial("a");
  h.regions[0].status = RegionStatus::Offline;
  h.regions[0].counts.eligible = 2;
  h.regions[0].counts.nodes = 4;
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->reason.find("region a offline: 2 of 4 backends eligible (failover_threshold 0.75)"),
            std::string::npos)
      << e->reason;
}

TEST(FailoverManager, PriorityTiesBrokenByLatencyFromFailedRegion) {
  // SPEC default coordinates. From N. Virginia: Oregon 18.7 ms, Ireland 27.3, Tokyo 54.4.
  Harness h({region("us-east-1", 1, RegionStatus::Online, 39.04, -77.49),
             region("ap-northeast-1", 2, RegionStatus::Online, 35.68, 139.69),
             region("eu-west-1", 2, RegionStatus::Online, 53.33, -6.25),
             region("us-west-2", 2, RegionStatus::Online, 45.52, -122.68),
             region("ap-southeast-1", 3, RegionStatus::Online, 1.35, 103.82)});
  h.manager.setInitial("us-east-1");
  h.set("us-east-1", RegionStatus::Offline);
  std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->to_region, "us-west-2");
  EXPECT_NE(e->reason.find("ms from us-east-1"), std::string::npos) << e->reason;

  // From Oregon, Ireland (37.4 ms) beats Tokyo (39.0 ms) at equal priority.
  h.set("us-west-2", RegionStatus::Offline);
  e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->from_region, "us-west-2");
  EXPECT_EQ(e->to_region, "eu-west-1");
}

TEST(FailoverManager, PriorityTiesWithUnknownLatencyBrokenById) {
  Harness h({region("a", 1, RegionStatus::Online), region("c", 2, RegionStatus::Online),
             region("b", 2, RegionStatus::Online)});
  h.latency = LatencyMatrix();  // no coordinates known at all
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Offline);
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->to_region, "b");
}

TEST(FailoverManager, KnownLatencyBeatsUnknownAtEqualPriority) {
  Harness h({region("a", 1, RegionStatus::Online, 10, 10), region("b", 2, RegionStatus::Online),
             region("z", 2, RegionStatus::Online, 11, 11)});
  // "b" is absent from the matrix: its latency is unknown, so it must not win on id.
  h.latency = LatencyMatrix({{"a", 10, 10}, {"z", 11, 11}});
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Offline);
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->to_region, "z");
}

TEST(FailoverManager, NothingOnlineMeansNoSwitch) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Offline),
             region("c", 3, RegionStatus::Maintenance), region("d", 4, RegionStatus::Unknown)});
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Offline);
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "a");
  EXPECT_TRUE(h.manager.history().empty());
  // As soon as one comes back, the switch happens.
  h.set("d", RegionStatus::Degraded);
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->to_region, "d");
}

TEST(FailoverManager, MaintenanceTriggersFailover) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)});
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Maintenance);
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->to_region, "b");
  EXPECT_EQ(e->triggered_by, "auto");
  EXPECT_NE(e->reason.find("region a in maintenance"), std::string::npos) << e->reason;
}

TEST(FailoverManager, RemovedActiveRegionTriggersFailover) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)});
  h.manager.setInitial("gone");
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->from_region, "gone");
  EXPECT_EQ(e->to_region, "a");
  EXPECT_NE(e->reason.find("region gone is no longer configured"), std::string::npos) << e->reason;
}

TEST(FailoverManager, DegradedOrUnknownActiveRegionStays) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)});
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Degraded);
  EXPECT_FALSE(h.evaluate().has_value());
  h.set("a", RegionStatus::Unknown);
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "a");
}

TEST(FailoverManager, AutoFailoverOffNeverSwitches) {
  FailoverManager::Options o;
  o.auto_failover = false;
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)}, o);
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Offline);
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "a");
}

// ---------------------------------------------------------------------------------------
// Failback

TEST(FailoverManager, FailbackAutoWaitsForHold) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)},
            autoFailback(60));
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Offline);
  ASSERT_TRUE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "b");
  EXPECT_EQ(h.manager.preferredOnlineSinceMs(), -1);

  h.now = 1000;
  h.set("a", RegionStatus::Online);
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.preferredOnlineSinceMs(), 1000);
  h.now = 1000 + 59'999;
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "b");

  h.now = 1000 + 60'000;
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->from_region, "b");
  EXPECT_EQ(e->to_region, "a");
  EXPECT_EQ(e->triggered_by, "auto-failback");
  EXPECT_EQ(e->timestamp_unix_ms, kWallBase + 61'000);
  EXPECT_NE(e->reason.find("preferred region a"), std::string::npos) << e->reason;
  EXPECT_EQ(h.manager.active(), "a");
  EXPECT_EQ(h.manager.history().size(), 2u);
  EXPECT_EQ(h.manager.history().front().triggered_by, "auto-failback");
}

TEST(FailoverManager, FailbackHoldRestartsWhenPreferredFlaps) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)},
            autoFailback(60));
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Offline);
  ASSERT_TRUE(h.evaluate().has_value());

  h.now = 1000;
  h.set("a", RegionStatus::Online);
  EXPECT_FALSE(h.evaluate().has_value());
  // Degraded is not "Online": the hold restarts.
  h.now = 30'000;
  h.set("a", RegionStatus::Degraded);
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.preferredOnlineSinceMs(), -1);
  h.now = 40'000;
  h.set("a", RegionStatus::Online);
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.preferredOnlineSinceMs(), 40'000);

  // 61 s after it first came back, but only 21 s of continuous Online time.
  h.now = 61'000;
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "b");
  h.now = 100'000;
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->to_region, "a");
}

TEST(FailoverManager, FailbackManualNeverSwitchesBack) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)});
  ASSERT_EQ(h.manager.options().failback, Failback::Manual);
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Offline);
  ASSERT_TRUE(h.evaluate().has_value());
  h.set("a", RegionStatus::Online);
  for (h.now = 0; h.now <= 24 * 3600 * 1000LL; h.now += 3600 * 1000LL)
    EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "b");
  EXPECT_EQ(h.manager.history().size(), 1u);
}

TEST(FailoverManager, FailbackAutoIgnoresOperatorsChoice) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)},
            autoFailback(0));
  h.manager.setInitial("a");
  ASSERT_TRUE(h.manual("", "b").has_value());
  h.now = 3600 * 1000;
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "b");
}

TEST(FailoverManager, ManualSwitchDisarmsPendingFailback) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online),
             region("c", 3, RegionStatus::Online)},
            autoFailback(10));
  h.manager.setInitial("a");
  h.set("a", RegionStatus::Offline);
  ASSERT_TRUE(h.evaluate().has_value());  // auto: a -> b
  ASSERT_TRUE(h.manual("b", "c").has_value());
  h.set("a", RegionStatus::Online);
  EXPECT_FALSE(h.evaluate().has_value());
  h.now = 3600 * 1000;
  EXPECT_FALSE(h.evaluate().has_value());
  EXPECT_EQ(h.manager.active(), "c");
}

TEST(FailoverManager, RestoredAutomaticFailoverKeepsFailbackArmed) {
  FailoverEvent last;
  last.event_id = newUuid();
  last.from_region = "a";
  last.to_region = "b";
  last.triggered_by = "auto";
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)},
            autoFailback(5));
  h.manager.restore("b", {last});
  EXPECT_EQ(h.manager.active(), "b");
  EXPECT_FALSE(h.evaluate().has_value());  // the hold starts now
  h.now = 5000;
  const std::optional<FailoverEvent> e = h.evaluate();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->to_region, "a");

  // Restored after an operator's switch: stays put.
  last.triggered_by = "alice";
  Harness h2({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)},
             autoFailback(5));
  h2.manager.restore("b", {last});
  EXPECT_FALSE(h2.evaluate().has_value());
  h2.now = 60'000;
  EXPECT_FALSE(h2.evaluate().has_value());
}

// ---------------------------------------------------------------------------------------
// Manual switch

TEST(FailoverManager, ManualSwitchRecordsEventAndClearsError) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)});
  h.manager.setInitial("a");
  h.error = "stale";
  h.conflict = true;
  h.now = 42;
  const std::optional<FailoverEvent> e = h.manual("a", "b", "planned maintenance of a", "alice");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(h.error, "");
  EXPECT_FALSE(h.conflict);
  EXPECT_EQ(h.manager.active(), "b");
  EXPECT_EQ(e->from_region, "a");
  EXPECT_EQ(e->to_region, "b");
  EXPECT_EQ(e->reason, "planned maintenance of a");
  EXPECT_EQ(e->triggered_by, "alice");
  EXPECT_EQ(e->timestamp_unix_ms, kWallBase + 42);
  EXPECT_TRUE(e->success);
  EXPECT_TRUE(isUuidV4(e->event_id));
  ASSERT_EQ(h.manager.history().size(), 1u);
}

TEST(FailoverManager, ManualSwitchDefaultsReasonAndTrigger) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)});
  h.manager.setInitial("a");
  const std::optional<FailoverEvent> e = h.manual("", "b", "", "");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->triggered_by, "api");
  EXPECT_FALSE(e->reason.empty());
}

TEST(FailoverManager, ManualSwitchToNonServingRegionIsRefusedWithAutoFailover) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Offline)});
  h.manager.setInitial("a");
  std::string error;
  bool conflict = false;
  EXPECT_FALSE(h.manager.manualSwitch(h.regions, "", "b", "drill", "api", 0, &error, &conflict));
  EXPECT_TRUE(conflict);
  EXPECT_NE(error.find("auto_failover"), std::string::npos) << error;
  EXPECT_EQ(h.manager.active(), "a");
}

TEST(FailoverManager, ManualSwitchToNonServingRegionIsAllowedWithWarningWithoutAutoFailover) {
  FailoverManager::Options no_auto;
  no_auto.auto_failover = false;
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Offline)}, no_auto);
  h.manager.setInitial("a");
  const std::optional<FailoverEvent> e = h.manual("", "b", "drill");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(h.manager.active(), "b");
  EXPECT_EQ(e->reason.rfind("drill", 0), 0u) << e->reason;
  EXPECT_NE(e->reason.find("offline"), std::string::npos) << e->reason;
  EXPECT_NE(e->reason.find("0 of 3 backends eligible"), std::string::npos) << e->reason;
}

TEST(FailoverManager, ManualSwitchErrors) {
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online),
             region("c", 3, RegionStatus::Online)});
  h.manager.setInitial("a");

  h.conflict = true;
  EXPECT_FALSE(h.manual("", "mars-1").has_value());
  EXPECT_FALSE(h.conflict);  // 404, not 409
  EXPECT_NE(h.error.find("mars-1"), std::string::npos) << h.error;

  h.error.clear();
  EXPECT_FALSE(h.manual("", "a").has_value());
  EXPECT_TRUE(h.conflict);
  EXPECT_NE(h.error.find("already"), std::string::npos) << h.error;

  h.error.clear();
  h.conflict = false;
  EXPECT_FALSE(h.manual("b", "c").has_value());
  EXPECT_TRUE(h.conflict);
  EXPECT_NE(h.error.find("b"), std::string::npos) << h.error;

  EXPECT_EQ(h.manager.active(), "a");
  EXPECT_TRUE(h.manager.history().empty());

  // Null outputs are tolerated.
  EXPECT_FALSE(h.manager.manualSwitch(h.regions, "", "zzz", "", "", 0, nullptr, nullptr));
}

// ---------------------------------------------------------------------------------------
// History

TEST(FailoverManager, HistoryIsBoundedAndNewestFirst) {
  FailoverManager::Options o;
  o.history_limit = 3;
  Harness h({region("a", 1, RegionStatus::Online), region("b", 2, RegionStatus::Online)}, o);
  h.manager.setInitial("a");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    h.now = i * 1000;
    const std::optional<FailoverEvent> e = h.manual("", i % 2 == 0 ? "b" : "a");
    ASSERT_TRUE(e.has_value());
    ids.push_back(e->event_id);
  }
  const auto& hist = h.manager.history();
  ASSERT_EQ(hist.size(), 3u);
  EXPECT_EQ(hist[0].event_id, ids[4]);
  EXPECT_EQ(hist[1].event_id, ids[3]);
  EXPECT_EQ(hist[2].event_id, ids[2]);
  EXPECT_GT(hist[0].timestamp_unix_ms, hist[1].timestamp_unix_ms);

  // Lowering the limit trims at once, dropping the oldest.
  o.history_limit = 1;
  h.manager.configure(o);
  ASSERT_EQ(h.manager.history().size(), 1u);
  EXPECT_EQ(h.manager.history().front().event_id, ids[4]);
}

TEST(FailoverManager, RestoreTrimsOldest) {
  FailoverManager::Options o;
  o.history_limit = 2;
  FailoverManager m;
  m.configure(o);
  std::vector<FailoverEvent> hist(4);
  for (size_t i = 0; i < hist.size(); ++i) {
    // Not "e" + to_string(i): GCC 12's false -Wrestrict (GCC bug 105329) at -O2 and above.
    hist[i].event_id = std::to_string(i);
    hist[i].event_id.insert(0, 1, 'e');
  }
  m.restore("b", hist);
  EXPECT_EQ(m.active(), "b");
  ASSERT_EQ(m.history().size(), 2u);
  EXPECT_EQ(m.history()[0].event_id, "e0");
  EXPECT_EQ(m.history()[1].event_id, "e1");
}

// ---------------------------------------------------------------------------------------
// RFC 3339 and UUIDs

TEST(Rfc3339, Formats) {
  EXPECT_EQ(rfc3339Utc(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(rfc3339Utc(kWallBase), "2026-11-24T16:31:29.123Z");
  EXPECT_EQ(rfc3339Utc(1709251199999), "2024-02-29T23:59:59.999Z");
  EXPECT_EQ(rfc3339Utc(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(rfc3339Utc(-2208988800000), "1900-01-01T00:00:00.000Z");
}

TEST(Rfc3339, RoundTrips) {
  for (int64_t ms : {int64_t{0}, kWallBase, int64_t{1709251199999}, int64_t{-1},
                     int64_t{-2208988800000}, int64_t{951782400000}, int64_t{253402300799999}}) {
    int64_t back = 0;
    ASSERT_TRUE(parseRfc3339(rfc3339Utc(ms), &back)) << rfc3339Utc(ms);
    EXPECT_EQ(back, ms) << rfc3339Utc(ms);
  }
}

TEST(Rfc3339, ParsesOffsetsAndFractions) {
  const auto parse = [](std::string_view text) {
    int64_t ms = -12345;
    EXPECT_TRUE(parseRfc3339(text, &ms)) << text;
    return ms;
  };
  EXPECT_EQ(parse("2026-11-24T16:31:29.123Z"), kWallBase);
  EXPECT_EQ(parse("2026-11-24T17:31:29.123+01:00"), kWallBase);
  EXPECT_EQ(parse("2026-11-24T11:01:29.123-05:30"), kWallBase);
  EXPECT_EQ(parse("2026-11-25T01:31:29.123+09:00"), kWallBase);
  EXPECT_EQ(parse("2026-11-24t16:31:29.123z"), kWallBase);
  EXPECT_EQ(parse("2026-11-24T16:31:29Z"), kWallBase - 123);
  EXPECT_EQ(parse("2026-11-24T16:31:29.1Z"), kWallBase - 23);
  // Beyond milliseconds is truncated.
  EXPECT_EQ(parse("2026-11-24T16:31:29.123999999Z"), kWallBase);
  EXPECT_EQ(parse("2026-11-24T16:31:29.123-00:00"), kWallBase);
}

TEST(Rfc3339, RejectsMalformed) {
  for (std::string_view bad : {"",
                               "2026-11-24",
                               "2026-11-24T16:31:29",
                               "2026-11-24T16:31:29.123",
                               "2026-11-24 16:31:29Z",
                               "2026-11-24T16:31:29.Z",
                               "2026-11-24T16:31:29.123Zjunk",
                               "2026-11-24T16:31:29+0100",
                               "2026-11-24T16:31:29+01",
                               "2026-13-01T00:00:00Z",
                               "2026-00-01T00:00:00Z",
                               "2026-02-29T00:00:00Z",
                               "2026-04-31T00:00:00Z",
                               "2026-11-24T24:00:00Z",
                               "2026-11-24T23:60:00Z",
                               "2026-11-24T23:59:61Z",
                               "2026-11-24T16:31:29+24:00",
                               "26-11-24T16:31:29Z",
                               "2026-1-24T16:31:29Z",
                               "2026-11-24T16:31:29.123 Z",
                               "x026-11-24T16:31:29Z"}) {
    int64_t ms = 7;
    EXPECT_FALSE(parseRfc3339(bad, &ms)) << bad;
    EXPECT_EQ(ms, 7) << bad;
  }
}

TEST(Uuid, FormatIsVersion4) {
  for (int i = 0; i < 100; ++i) {
    const std::string id = newUuid();
    ASSERT_EQ(id.size(), 36u);
    EXPECT_TRUE(isUuidV4(id)) << id;
    EXPECT_EQ(id[14], '4');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  }
}

TEST(Uuid, UniqueOverAThousand) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i)
    seen.insert(newUuid());
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace fiberlb::lb
