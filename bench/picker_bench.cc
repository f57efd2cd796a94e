// Pick cost of the balancing policies by endpoint count. Run the Release build:
//   build/bench/picker_bench --benchmark_min_time=0.2
// ns/pick = the reported Time per iteration (one pick each).

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "lb/backend_state.h"
#include "lb/picker.h"
#include "lb/policies/least_conn.h"
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
  explicit Fixture(size_t n) {
    states.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      states.push_back(std::make_unique<BackendState>("lb", backendName(static_cast<size_t>(i)),
                                                      "10.0.0.1", static_cast<int>(1000 + i),
                                                      static_cast<uint32_t>(i)));
      // Mixed weights (1..10) so the picks are not a trivial rotation.
      endpoints.push_back(Endpoint{states.back().get(), 1 + static_cast<int>(i % 10)});
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

BENCHMARK(BM_Pick<RoundRobinPolicy>)->Arg(2)->Arg(100)->Arg(10000);
BENCHMARK(BM_Pick<LeastConnPolicy>)->Arg(2)->Arg(100)->Arg(10000);
BENCHMARK(BM_PickRetry<RoundRobinPolicy>)->Arg(2)->Arg(100)->Arg(10000);
BENCHMARK(BM_PickRetry<LeastConnPolicy>)->Arg(2)->Arg(100)->Arg(10000);
BENCHMARK(BM_LeastConnPickAndTrack)->Arg(2)->Arg(100)->Arg(10000);

}  // namespace
}  // namespace fiberlb::lb
