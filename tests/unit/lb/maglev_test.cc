#include "lb/policies/maglev.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "lb/backend_state.h"
#include "lb/hash_key.h"
#include "lb/picker.h"
#include "tests/unit/lb/endpoint_pool.h"

namespace fiberlb::lb {
namespace {

using test_support::Pool;
using test_support::triedCtx;

constexpr size_t kKeys = 100000;

// The hashes of kKeys distinct client keys, as the session code would compute them.
const std::vector<uint64_t>& keyHashes() {
  static const std::vector<uint64_t> hashes = [] {
    std::vector<uint64_t> out;
    out.reserve(kKeys);
    for (size_t i = 0; i < kKeys; ++i) {
      std::string key = std::to_string(i);
      key.insert(0, "client-");
      out.push_back(hashKey(key));
    }
    return out;
  }();
  return hashes;
}

PickContext keyCtx(uint64_t hash) {
  PickContext ctx;
  ctx.hash = hash;
  return ctx;
}

// The backend name every key goes to (names, not pointers: a reload may rebuild the
// BackendState objects).
std::vector<std::string> route(Picker& picker) {
  std::vector<std::string> out;
  out.reserve(kKeys);
  for (const uint64_t h : keyHashes()) {
    const BackendState* b = picker.pick(keyCtx(h));
    out.push_back(b == nullptr ? std::string() : b->name());
  }
  return out;
}

// Fraction of the keys routed to `name`.
double shareOf(const std::vector<std::string>& routes, const std::string& name) {
  size_t count = 0;
  for (const std::string& r : routes)
    count += r == name ? 1 : 0;
  return static_cast<double>(count) / static_cast<double>(routes.size());
}

struct Movement {
  double moved = 0;  // fraction of all keys whose backend changed
  double extra = 0;  // fraction of all keys that moved without having to
};

// Keys that moved between two routings. A key *has to* move when its old backend is
// `gone`, and may only move *to* `added`; any other move is Maglev's extra disruption.
Movement movement(const std::vector<std::string>& before, const std::vector<std::string>& after,
                  const std::string& gone, const std::string& added) {
  size_t moved = 0;
  size_t extra = 0;
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i] == after[i]) continue;
    ++moved;
    if (before[i] != gone && after[i] != added) ++extra;
  }
  const auto n = static_cast<double>(before.size());
  return Movement{static_cast<double>(moved) / n, static_cast<double>(extra) / n};
}

std::vector<Endpoint> without(std::span<const Endpoint> endpoints, size_t skip) {
  std::vector<Endpoint> out;
  for (size_t i = 0; i < endpoints.size(); ++i)
    if (i != skip) out.push_back(endpoints[i]);
  return out;
}

// Tolerances for key shares over kKeys keys. A backend's share of the *table* is exact to
// within a slot or two (1/65537 each); what varies is which keys fall on it: a binomial
// sample of kKeys, standard deviation sqrt(p(1-p)/kKeys) <= 0.0016. Five of those, rounded
// up. (Everything here is deterministic — fixed names, fixed keys — so the tolerances guard
// against regressions, not flakiness.)
constexpr double kShareTolerance = 0.008;
// Maglev moves some keys it does not have to when the set changes: freeing or claiming a
// backend's slots shifts the contested slots of the table's last rounds. With M = 65,537 it
// is 0.01% / 0.27% / 0.55% of all keys for N = 3 / 10 / 100 (a straight transcription of the
// paper's pseudo-code gives the same 0.54% at N = 100), so "about 1/N" means 1.0, 1.03 and
// 1.6 times 1/N. The bound leaves ~30% headroom; mod-N hashing would move 50-99% of keys.
constexpr double kExtraMovement = 0.0075;

TEST(MaglevPickerTest, EmptyReturnsNull) {
  MaglevPicker picker({});
  EXPECT_EQ(picker.pick(keyCtx(42)), nullptr);
  EXPECT_EQ(picker.tableSize(), 0u);
}

TEST(MaglevPickerTest, SingleEndpointTakesEveryKey) {
  Pool pool({5});
  MaglevPicker picker(pool.endpoints());
  for (size_t i = 0; i < 1000; ++i)
    EXPECT_EQ(picker.pick(keyCtx(keyHashes()[i])), pool.at(0));
}

TEST(MaglevPickerTest, TableSizeIsAtLeastAHundredSlotsPerEndpointUpTo655) {
  EXPECT_EQ(MaglevPicker::tableSizeFor(1), 65537u);
  EXPECT_EQ(MaglevPicker::tableSizeFor(655), 65537u);
  EXPECT_EQ(MaglevPicker::tableSizeFor(656), 655373u);
  EXPECT_EQ(MaglevPicker::tableSizeFor(10000), 655373u);
}

TEST(MaglevPickerTest, SameKeySameBackendAcrossPickers) {
  Pool pool({1, 1, 1, 1, 1, 1, 1});
  MaglevPicker first(pool.endpoints());
  MaglevPicker second(pool.endpoints());
  for (const uint64_t h : keyHashes())
    ASSERT_EQ(first.pick(keyCtx(h)), second.pick(keyCtx(h)));
}

// The table depends on the backends' identities, not on their position in the list nor on
// which BackendState objects carry them.
TEST(MaglevPickerTest, RoutingDependsOnIdentityNotOrderOrObject) {
  Pool pool({1, 2, 3, 4, 5});
  Pool reloaded({1, 2, 3, 4, 5});  // same names and weights, new objects
  std::vector<Endpoint> reversed(reloaded.endpoints().rbegin(), reloaded.endpoints().rend());
  MaglevPicker original(pool.endpoints());
  MaglevPicker other(reversed);
  EXPECT_EQ(route(original), route(other));
}

TEST(MaglevPickerTest, EqualWeightsShareKeysEvenly) {
  Pool pool(std::vector<int>(10, 1));
  MaglevPicker picker(pool.endpoints());
  const auto routes = route(picker);
  for (size_t i = 0; i < pool.size(); ++i)
    EXPECT_NEAR(shareOf(routes, pool.at(i)->name()), 0.1, kShareTolerance) << i;
}

TEST(MaglevPickerTest, SharesFollowWeights) {
  Pool pool({100, 200, 300});
  MaglevPicker picker(pool.endpoints());
  const auto routes = route(picker);
  EXPECT_NEAR(shareOf(routes, "b0"), 1.0 / 6, kShareTolerance);
  EXPECT_NEAR(shareOf(routes, "b1"), 2.0 / 6, kShareTolerance);
  EXPECT_NEAR(shareOf(routes, "b2"), 3.0 / 6, kShareTolerance);
}

TEST(MaglevPickerTest, SkewedWeightsStillReachTheLightBackend) {
  Pool pool({1000, 1, 1000, 10});
  MaglevPicker picker(pool.endpoints());
  const auto routes = route(picker);
  EXPECT_NEAR(shareOf(routes, "b1"), 1.0 / 2011, 0.001);
  EXPECT_NEAR(shareOf(routes, "b3"), 10.0 / 2011, 0.002);
  EXPECT_NEAR(shareOf(routes, "b0"), 1000.0 / 2011, kShareTolerance);
}

class MaglevMovementTest : public ::testing::TestWithParam<int> {};

// A backend that turns unhealthy leaves the endpoint list (its BackendState lives on): only
// its keys have to move, and about 1/N of the keys do.
TEST_P(MaglevMovementTest, UnhealthyBackendMovesAboutOneNth) {
  const auto n = static_cast<size_t>(GetParam());
  Pool pool(std::vector<int>(n, 1));
  const size_t gone = n / 2;
  MaglevPicker all(pool.endpoints());
  MaglevPicker rest(without(pool.endpoints(), gone));
  const auto before = route(all);
  const auto after = route(rest);
  const Movement m = movement(before, after, pool.at(gone)->name(), "");
  RecordProperty("moved", std::to_string(m.moved));
  RecordProperty("extra", std::to_string(m.extra));
  EXPECT_NEAR(m.moved, 1.0 / static_cast<double>(n), kShareTolerance + kExtraMovement);
  EXPECT_LE(m.extra, kExtraMovement);
  for (size_t i = 0; i < kKeys; ++i)
    ASSERT_NE(after[i], pool.at(gone)->name());
}

// A backend removed by a reload: the others are new objects with the same identities. Keys
// move exactly as when it turned unhealthy.
TEST_P(MaglevMovementTest, RemovedBackendMovesTheSameKeysAsAnUnhealthyOne) {
  const auto n = static_cast<size_t>(GetParam());
  Pool pool(std::vector<int>(n, 1));
  Pool reloaded(std::vector<int>(n, 1));
  const size_t gone = n - 1;
  MaglevPicker unhealthy(without(pool.endpoints(), gone));
  MaglevPicker removed(without(reloaded.endpoints(), gone));
  EXPECT_EQ(route(unhealthy), route(removed));
}

// Adding one backend to N: about 1/(N+1) of the keys move, all of them to the new one.
TEST_P(MaglevMovementTest, AddedBackendTakesAboutOneNPlusOneth) {
  const auto n = static_cast<size_t>(GetParam());
  Pool pool(std::vector<int>(n + 1, 1));
  MaglevPicker before_picker(without(pool.endpoints(), n));
  MaglevPicker after_picker(pool.endpoints());
  const auto before = route(before_picker);
  const auto after = route(after_picker);
  const Movement m = movement(before, after, "", pool.at(n)->name());
  RecordProperty("moved", std::to_string(m.moved));
  RecordProperty("extra", std::to_string(m.extra));
  EXPECT_NEAR(m.moved, 1.0 / static_cast<double>(n + 1), kShareTolerance + kExtraMovement);
  EXPECT_LE(m.extra, kExtraMovement);
}

INSTANTIATE_TEST_SUITE_P(BackendCounts, MaglevMovementTest, ::testing::Values(3, 10, 100));

// A weight change (slow start ramping a backend up) moves keys only in proportion to the
// change.
TEST(MaglevPickerTest, WeightChangeMovesKeysInProportion) {
  Pool ramping({100, 100, 100, 50});
  Pool full({100, 100, 100, 100});
  MaglevPicker before_picker(ramping.endpoints());
  MaglevPicker after_picker(full.endpoints());
  const Movement m = movement(route(before_picker), route(after_picker), "", "b3");
  // b3 grows from 50/350 to 100/400 of the keys: 0.107 of all keys have to move to it.
  EXPECT_NEAR(m.moved, 0.25 - 50.0 / 350, kShareTolerance + kExtraMovement);
  EXPECT_LE(m.extra, kExtraMovement);
}

// Removing the heaviest backend changes the tick every other backend's turns are counted
// in; the turns keep their order, so no more keys move than for any other backend.
TEST(MaglevPickerTest, RemovingTheHeaviestBackendMovesOnlyItsShare) {
  Pool pool({10, 20, 30, 40, 50, 60, 70, 80, 90, 100});
  MaglevPicker all(pool.endpoints());
  MaglevPicker rest(without(pool.endpoints(), 9));
  const Movement m = movement(route(all), route(rest), "b9", "");
  EXPECT_NEAR(m.moved, 100.0 / 550, kShareTolerance + kExtraMovement);
  EXPECT_LE(m.extra, kExtraMovement);
}

TEST(MaglevPickerTest, RetriesSkipTriedBackendsThenGiveUp) {
  Pool pool({1, 1, 1, 1, 1});
  MaglevPicker picker(pool.endpoints());
  for (size_t k = 0; k < 1000; ++k) {
    const uint64_t h = keyHashes()[k];
    std::vector<const BackendState*> tried;
    for (size_t attempt = 0; attempt < pool.size(); ++attempt) {
      PickContext ctx = triedCtx(tried.data(), tried.size());
      ctx.hash = h;
      BackendState* b = picker.pick(ctx);
      ASSERT_NE(b, nullptr);
      ASSERT_FALSE(ctx.isTried(b)) << "key " << k << " attempt " << attempt;
      EXPECT_EQ(picker.pick(ctx), b);  // deterministic for a key and its tried list
      tried.push_back(b);
    }
    PickContext ctx = triedCtx(tried.data(), tried.size());
    ctx.hash = h;
    EXPECT_EQ(picker.pick(ctx), nullptr);
  }
}

TEST(MaglevPickerTest, TriedBackendsOfAnotherPoolChangeNothing) {
  Pool pool({1, 1, 1});
  Pool other({1, 1, 1});
  MaglevPicker picker(pool.endpoints());
  const BackendState* tried[] = {other.at(0), other.at(1), other.at(2)};
  for (size_t k = 0; k < 1000; ++k) {
    PickContext ctx = triedCtx(tried, 3);
    ctx.hash = keyHashes()[k];
    EXPECT_EQ(picker.pick(ctx), picker.pick(keyCtx(ctx.hash)));
  }
}

// The keys of a failed backend do not all fall on one neighbour when retried: their second
// choices spread over the others about evenly.
TEST(MaglevPickerTest, RetriesOfOneBackendsKeysSpreadOverTheOthers) {
  Pool pool(std::vector<int>(10, 1));
  MaglevPicker picker(pool.endpoints());
  const BackendState* failed = pool.at(0);
  std::vector<size_t> retried_to(pool.size(), 0);
  size_t retried = 0;
  for (const uint64_t h : keyHashes()) {
    if (picker.pick(keyCtx(h)) != failed) continue;
    PickContext ctx = triedCtx(&failed, 1);
    ctx.hash = h;
    ++retried_to[static_cast<size_t>(pool.indexOf(picker.pick(ctx)))];
    ++retried;
  }
  ASSERT_GT(retried, 5000u);
  EXPECT_EQ(retried_to[0], 0u);
  for (size_t i = 1; i < pool.size(); ++i)
    EXPECT_NEAR(static_cast<double>(retried_to[i]) / static_cast<double>(retried), 1.0 / 9, 0.03)
        << i;
}

// Past 655 endpoints the table grows to 655,373 slots; every endpoint still gets its share.
TEST(MaglevPickerTest, LargeTableCoversEveryEndpoint) {
  Pool pool(std::vector<int>(700, 1));
  MaglevPicker picker(pool.endpoints());
  ASSERT_EQ(picker.tableSize(), 655373u);
  std::vector<size_t> count(pool.size(), 0);
  for (const uint64_t h : keyHashes())
    ++count[static_cast<size_t>(pool.indexOf(picker.pick(keyCtx(h))))];
  // 143 keys each on average; binomial sd 12, so 5 sd either side.
  for (size_t i = 0; i < pool.size(); ++i) {
    EXPECT_GT(count[i], 83u) << i;
    EXPECT_LT(count[i], 203u) << i;
  }
}

TEST(MaglevPickerTest, HashKeyIsXxh3) {
  // XXH3-64 of "" with seed 0 (the reference value from xxHash's own test suite), so
  // fiberlb's keys stay where they are across builds.
  EXPECT_EQ(hashKey(""), 0x2D06800538D394C2ULL);
  EXPECT_NE(hashKey("10.0.0.1"), hashKey("10.0.0.2"));
}

TEST(MaglevPickerTest, RegistryMapsHashToMaglev) {
  const Policy& policy = policyFor(config::Method::Hash);
  EXPECT_NE(dynamic_cast<const MaglevPolicy*>(&policy), nullptr);
  Pool pool({1, 1});
  EXPECT_NE(dynamic_cast<MaglevPicker*>(policy.makePicker(pool.endpoints()).get()), nullptr);
}

}  // namespace
}  // namespace fiberlb::lb
