// Pick cost of the balancing policies by endpoint count, and the build cost of the Maglev
// table. Run the Release build (bench/README.md, "Micro-benchmarks"):
//   build/release/bench/picker_bench --benchmark_min_time=0.2
// ns/pick = the reported Time per iteration (one pick each).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lb/backend_state.h"
#include "lb/hash_key.h"
#include "lb/picker.h"
#include "lb/policies/least_conn.h"
#include "lb/policies/maglev.h"
#include "lb/policies/random_p2c.h"
#include "lb/policies/round_robin.h"

namespace fiberlb::lb {
namespace {

// "b" + std::to_string(i) trips GCC 12's false -Wrestrict (GCC bug 105329) at -O2.
std::string backendName(size_t i) {
  std::string name = std::to_string(i);
  name.insert(0, 1, 'b');
  return name;
}

struct Fixture {
  // `equal_weights`: every weight 1 (round-robin's rotation path) instead of 1..10.
  explicit Fixture(size_t n, bool equal_weights = false) {
    states.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      states.push_back(std::make_unique<BackendState>("lb", backendName(static_cast<size_t>(i)),
                                                      "10.0.0.1", static_cast<int>(1000 + i),
                                                      static_cast<uint32_t>(i)));
      // Mixed weights (1..10) so the picks are not a trivial rotation.
      const int weight = equal_weights ? 1 : 1 + static_cast<int>(i % 10);
      endpoints.push_back(Endpoint{states.back().get(), weight});
      // Least-conn sees a realistic spread of in-flight counts.
      states.back()->active_requests.store(static_cast<int64_t>((i * 7) % 13));
    }
  }
  std::vector<std::unique_ptr<BackendState>> states;
  std::vector<Endpoint> endpoints;
};

template <typename PolicyT>
void pickLoop(benchmark::State& state, const PickContext& ctx, const Fixture& f) {
  PolicyT policy;
  auto picker = policy.makePicker(f.endpoints);
  for (auto _ : state)
    benchmark::DoNotOptimize(picker->pick(ctx));
  state.SetItemsProcessed(state.iterations());
}

template <typename PolicyT>
void BM_Pick(benchmark::State& state) {
  const Fixture f(static_cast<size_t>(state.range(0)));
  pickLoop<PolicyT>(state, PickContext{}, f);
}

// Round-robin with equal weights: plain rotation, whatever the count.
void BM_RoundRobinEqualWeights(benchmark::State& state) {
  const Fixture f(static_cast<size_t>(state.range(0)), /*equal_weights=*/true);
  pickLoop<RoundRobinPolicy>(state, PickContext{}, f);
}

// A retry: one backend already tried, so the picker takes its tried-list path.
template <typename PolicyT>
void BM_PickRetry(benchmark::State& state) {
  const Fixture f(static_cast<size_t>(state.range(0)));
  const BackendState* tried[] = {f.states[0].get()};
  PickContext ctx;
  ctx.tried = tried;
  ctx.tried_count = 1;
  pickLoop<PolicyT>(state, ctx, f);
}

// Least-conn with the counters changing under it, as when the pick starts a request.
void BM_LeastConnPickAndTrack(benchmark::State& state) {
  const Fixture f(static_cast<size_t>(state.range(0)));
  LeastConnPolicy policy;
  auto picker = policy.makePicker(f.endpoints);
  BackendState* in_flight[16] = {};
  size_t k = 0;
  for (auto _ : state) {
    BackendState* b = picker->pick(PickContext{});
    b->active_requests.fetch_add(1, std::memory_order_relaxed);
    if (in_flight[k] != nullptr)
      in_flight[k]->active_requests.fetch_sub(1, std::memory_order_relaxed);
    in_flight[k] = b;
    k = (k + 1) % 16;
  }
  state.SetItemsProcessed(state.iterations());
}

// Client keys as `hash_key = "source_ip"` sees them: 65,536 IPv4 addresses, so successive
// picks land on different table slots (a single key would keep one slot in L1).
constexpr size_t kKeyCount = 1 << 16;

const std::vector<std::string>& clientAddresses() {
  static const std::vector<std::string> addresses = [] {
    std::vector<std::string> out;
    out.reserve(kKeyCount);
    for (size_t i = 0; i < kKeyCount; ++i) {
      std::string a = std::to_string(i & 255);
      a.insert(0, "10.1." + std::to_string(i >> 8) + ".");
      out.push_back(std::move(a));
    }
    return out;
  }();
  return addresses;
}

const std::vector<uint64_t>& keyHashes() {
  static const std::vector<uint64_t> hashes = [] {
    std::vector<uint64_t> out;
    out.reserve(kKeyCount);
    for (const std::string& a : clientAddresses())
      out.push_back(hashKey(a));
    return out;
  }();
  return hashes;
}

// One pick per iteration over the client keys: `step(k)` picks for key index k and returns
// the next index.
template <typename Step>
void keyLoop(benchmark::State& state, Step&& step) {
  size_t k = 0;
  for (auto _ : state)
    k = step(k) & (kKeyCount - 1);
  state.SetItemsProcessed(state.iterations());
}

// A Maglev picker over `state.range(0)` endpoints.
struct HashPicker {
  explicit HashPicker(const benchmark::State& state)
      : fixture(static_cast<size_t>(state.range(0))),
        picker(MaglevPolicy().makePicker(fixture.endpoints)) {}
  BackendState* pick(uint64_t hash, const BackendState* const* tried = nullptr) {
    ctx.hash = hash;
    ctx.tried = tried;
    ctx.tried_count = tried == nullptr ? 0 : 1;
    return picker->pick(ctx);
  }
  Fixture fixture;
  std::unique_ptr<Picker> picker;
  PickContext ctx;
};

// Maglev: one table lookup per pick, the key's hash given (the session computes it).
void BM_HashPick(benchmark::State& state) {
  HashPicker hp(state);
  const std::vector<uint64_t>& hashes = keyHashes();
  keyLoop(state, [&](size_t k) {
    benchmark::DoNotOptimize(hp.pick(hashes[k]));
    return k + 1;
  });
}

// The same lookups one after another, each waiting for the previous: the latency of an
// isolated pick (a request's pick does not overlap with the next request's).
void BM_HashPickLatency(benchmark::State& state) {
  HashPicker hp(state);
  const std::vector<uint64_t>& hashes = keyHashes();
  keyLoop(state, [&](size_t k) {
    return k + 1 + static_cast<size_t>(hp.pick(hashes[k]) == nullptr);  // waits for it
  });
}

// The whole cost per request: XXH3 of the client address, then the lookup.
void BM_HashKeyAndPick(benchmark::State& state) {
  HashPicker hp(state);
  const std::vector<std::string>& addresses = clientAddresses();
  keyLoop(state, [&](size_t k) {
    benchmark::DoNotOptimize(hp.pick(hashKey(addresses[k])));
    return k + 1;
  });
}

// A retry: the key's own backend already tried, so every pick takes the probing path.
void BM_HashPickRetry(benchmark::State& state) {
  HashPicker hp(state);
  const std::vector<uint64_t>& hashes = keyHashes();
  std::vector<const BackendState*> first(kKeyCount);
  for (size_t i = 0; i < kKeyCount; ++i)
    first[i] = hp.pick(hashes[i]);
  keyLoop(state, [&](size_t k) {
    benchmark::DoNotOptimize(hp.pick(hashes[k], &first[k]));
    return k + 1;
  });
}

// What every worker pays per published snapshot for an LB with `method = "hash"`.
void BM_MaglevBuild(benchmark::State& state) {
  const Fixture f(static_cast<size_t>(state.range(0)));
  for (auto _ : state)
    benchmark::DoNotOptimize(MaglevPolicy().makePicker(f.endpoints));
  state.counters["table_slots"] =
      static_cast<double>(MaglevPicker::tableSizeFor(static_cast<size_t>(state.range(0))));
}

// Round-robin: the smooth scan up to 32 endpoints, the EDF heap beyond (mixed weights).
BENCHMARK(BM_Pick<RoundRobinPolicy>)->Arg(2)->Arg(32)->Arg(100)->Arg(10000);
BENCHMARK(BM_RoundRobinEqualWeights)->Arg(2)->Arg(100)->Arg(10000);
// Least-conn: the exact scan up to 32 endpoints, best of 8 draws beyond.
BENCHMARK(BM_Pick<LeastConnPolicy>)->Arg(2)->Arg(32)->Arg(100)->Arg(10000);
BENCHMARK(BM_PickRetry<RoundRobinPolicy>)->Arg(2)->Arg(32)->Arg(100)->Arg(10000);
BENCHMARK(BM_PickRetry<LeastConnPolicy>)->Arg(2)->Arg(32)->Arg(100)->Arg(10000);
BENCHMARK(BM_LeastConnPickAndTrack)->Arg(2)->Arg(32)->Arg(100)->Arg(10000);
BENCHMARK(BM_HashPick)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_HashPickLatency)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_HashKeyAndPick)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_HashPickRetry)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_Pick<RandomP2CPolicy>)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_PickRetry<RandomP2CPolicy>)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_MaglevBuild)
    ->Arg(10)
    ->Arg(100)
    ->Arg(655)
    ->Arg(1000)
    ->Arg(10000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fiberlb::lb
