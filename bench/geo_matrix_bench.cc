// Build cost of the region latency matrix (SPEC §4 "Latency model"), which is rebuilt on
// every change of the region set. Run the Release build:
//   build/bench/geo_matrix_bench --benchmark_min_time=0.2
// Time per iteration = one full n×n build; 1,000 regions must stay well under 50 ms.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "lb/geo_math.h"

namespace fiberlb::lb {
namespace {

// Deterministic pseudo-random coordinates (a fixed-seed xorshift), so runs are comparable
// and independent of the standard library's distributions.
std::vector<GeoPoint> regions(size_t n) {
  uint64_t x = 0x9E3779B97F4A7C15ULL;
  const auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return static_cast<double>(x >> 11) / static_cast<double>(uint64_t{1} << 53);  // [0, 1)
  };
  std::vector<GeoPoint> points;
  points.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    std::string id = std::to_string(i);
    id.insert(0, "r-");  // not "r-" + to_string: GCC 12's false -Wrestrict (bug 105329)
    const double lat = next() * 180.0 - 90.0;
    const double lon = next() * 360.0 - 180.0;
    points.push_back(GeoPoint{std::move(id), lat, lon});
  }
  return points;
}

void BM_BuildLatencyMatrix(benchmark::State& state) {
  const std::vector<GeoPoint> points = regions(static_cast<size_t>(state.range(0)));
  for (auto _ : state) {
    LatencyMatrix m(points);
    benchmark::DoNotOptimize(m.at(0, m.size() - 1));
  }
  state.SetComplexityN(state.range(0));
}

// The replication groups derived from the matrix, computed alongside each rebuild.
void BM_NearestAll(benchmark::State& state) {
  const LatencyMatrix m(regions(static_cast<size_t>(state.range(0))));
  for (auto _ : state)
    for (size_t i = 0; i < m.size(); ++i)
      benchmark::DoNotOptimize(m.nearest(i, 2));
}

BENCHMARK(BM_BuildLatencyMatrix)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_NearestAll)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fiberlb::lb
