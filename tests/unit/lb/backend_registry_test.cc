#include "lb/backend_registry.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "config/config.h"

namespace fiberlb::lb {
namespace {

// "b" + std::to_string(i) trips GCC 12's false -Wrestrict (GCC bug 105329) at -O2.
std::string backendName(size_t i) {
  std::string name = std::to_string(i);
  name.insert(0, 1, 'b');
  return name;
}

config::Config configWith(
    const std::vector<std::pair<std::string, std::vector<config::Backend>>>& lbs) {
  config::Config cfg;
  for (const auto& [name, backends] : lbs) {
    config::LoadBalancer lb;
    lb.name = name;
    lb.backends = backends;
    cfg.loadbalancers.push_back(lb);
  }
  return cfg;
}

config::Backend backend(std::string name, std::string address, int port) {
  config::Backend b;
  b.name = std::move(name);
  b.address = std::move(address);
  b.port = port;
  return b;
}

TEST(BackendRegistryTest, SameIdentitySameObject) {
  BackendRegistry reg;
  auto a = reg.acquire("web", "w1", "10.0.0.1", 80);
  auto b = reg.acquire("web", "w1", "10.0.0.1", 80);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->lb(), "web");
  EXPECT_EQ(a->name(), "w1");
  EXPECT_EQ(a->address(), "10.0.0.1");
  EXPECT_EQ(a->port(), 80);
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg.slotCount(), 1u);
  EXPECT_EQ(reg.find("web", "w1", "10.0.0.1", 80), a);
}

TEST(BackendRegistryTest, EveryIdentityFieldMatters) {
  BackendRegistry reg;
  auto base = reg.acquire("web", "w1", "10.0.0.1", 80);
  std::set<BackendState*> distinct = {base.get()};
  distinct.insert(reg.acquire("api", "w1", "10.0.0.1", 80).get());
  distinct.insert(reg.acquire("web", "w2", "10.0.0.1", 80).get());
  distinct.insert(reg.acquire("web", "w1", "10.0.0.2", 80).get());
  distinct.insert(reg.acquire("web", "w1", "10.0.0.1", 81).get());
  EXPECT_EQ(distinct.size(), 5u);
  EXPECT_EQ(reg.size(), 5u);
  EXPECT_EQ(reg.find("web", "w9", "10.0.0.1", 80), nullptr);
}

TEST(BackendRegistryTest, SlotsAreDenseAndStable) {
  BackendRegistry reg;
  for (int i = 0; i < 10; ++i) {
    auto s = reg.acquire("lb", backendName(static_cast<size_t>(i)), "127.0.0.1", 9000 + i);
    EXPECT_EQ(s->slot(), static_cast<uint32_t>(i));
  }
  EXPECT_EQ(reg.slotCount(), 10u);
  // Re-acquiring in another order changes nothing.
  for (int i = 9; i >= 0; --i)
    EXPECT_EQ(reg.acquire("lb", backendName(static_cast<size_t>(i)), "127.0.0.1", 9000 + i)->slot(),
              static_cast<uint32_t>(i));
  EXPECT_EQ(reg.slotCount(), 10u);
}

TEST(BackendRegistryTest, StateSurvivesWhileIdentityStays) {
  BackendRegistry reg;
  auto a = reg.acquire("web", "w1", "10.0.0.1", 80);
  a->requests_total.store(42);
  auto cfg = configWith({{"web", {backend("w1", "10.0.0.1", 80)}}});
  reg.retainOnly(cfg);
  a.reset();
  EXPECT_EQ(reg.acquire("web", "w1", "10.0.0.1", 80)->requests_total.load(), 42u);
}

TEST(BackendRegistryTest, RetainOnlyDropsRemovedIdentities) {
  BackendRegistry reg;
  auto keep = reg.acquire("web", "w1", "10.0.0.1", 80);
  auto moved = reg.acquire("web", "w2", "10.0.0.2", 80);
  auto gone_lb = reg.acquire("old", "x", "10.0.0.3", 80);
  // w2 changed port: a new identity.
  auto cfg = configWith({{"web", {backend("w1", "10.0.0.1", 80), backend("w2", "10.0.0.2", 81)}}});
  reg.retainOnly(cfg);
  EXPECT_EQ(reg.size(), 1u);
  EXPECT_EQ(reg.find("web", "w1", "10.0.0.1", 80), keep);
  EXPECT_EQ(reg.find("web", "w2", "10.0.0.2", 80), nullptr);
  EXPECT_EQ(reg.find("old", "x", "10.0.0.3", 80), nullptr);
  // Dropped objects stay valid for whoever still holds them (draining requests).
  moved->active_requests.fetch_add(1);
  EXPECT_EQ(moved->name(), "w2");
  EXPECT_EQ(gone_lb->lb(), "old");
}

TEST(BackendRegistryTest, ReturningIdentityGetsFreshObjectAndSlot) {
  BackendRegistry reg;
  auto first = reg.acquire("web", "w1", "10.0.0.1", 80);
  reg.acquire("web", "w2", "10.0.0.1", 81);
  first->failures_total.store(7);
  reg.retainOnly(configWith({{"web", {backend("w2", "10.0.0.1", 81)}}}));
  EXPECT_EQ(reg.slotCount(), 2u);  // never shrinks
  auto again = reg.acquire("web", "w1", "10.0.0.1", 80);
  EXPECT_NE(again, first);
  EXPECT_EQ(again->slot(), 2u);  // slots are never reused
  EXPECT_EQ(again->failures_total.load(), 0u);
  EXPECT_EQ(reg.slotCount(), 3u);
}

TEST(BackendRegistryTest, RetainOnlyEmptyConfigClearsAll) {
  BackendRegistry reg;
  reg.acquire("a", "b", "c", 1);
  reg.acquire("a", "b", "c", 2);
  const config::Config empty;
  reg.retainOnly(empty);
  EXPECT_EQ(reg.size(), 0u);
  EXPECT_EQ(reg.slotCount(), 2u);
}

}  // namespace
}  // namespace fiberlb::lb
