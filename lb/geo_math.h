#pragma once
// The latency model of SPEC §4: great-circle distance by the haversine formula (Earth
// radius 6371 km) and one-way latency = distance_km / 200 (light in fibre ≈ 200 km per ms).
// Pure arithmetic, no I/O.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace fiberlb::lb {

inline constexpr double kEarthRadiusKm = 6371.0;
inline constexpr double kFibreKmPerMs = 200.0;

// Great-circle distance in km between two points given in degrees.
double haversineKm(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg);

// Estimated one-way latency in ms between two points (degrees). Tokyo→N. Virginia ≈ 54.4.
double latencyMs(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg);

struct GeoPoint {
  std::string id;
  double latitude = 0;
  double longitude = 0;
};

// The n×n one-way latency matrix of a set of regions, computed once per change of the
// region set (not per request). Built in O(n²) with the trigonometry per region hoisted out
// of the pair loop, so 1,000 regions take a few milliseconds.
class LatencyMatrix {
 public:
  LatencyMatrix() = default;
  explicit LatencyMatrix(std::vector<GeoPoint> points);

  size_t size() const { return points_.size(); }
  const GeoPoint& point(size_t i) const { return points_[i]; }
  // Index of region `id`, or size() when unknown.
  size_t indexOf(std::string_view id) const;
  // Latency in ms between regions i and j (0 on the diagonal).
  double at(size_t i, size_t j) const { return ms_[i * points_.size() + j]; }
  // Latency between two ids; negative when either is unknown.
  double between(std::string_view a, std::string_view b) const;

  // The `k` nearest other regions of region `i`, nearest first (ties by id), as indexes.
  std::vector<size_t> nearest(size_t i, size_t k) const;

 private:
  std::vector<GeoPoint> points_;
  std::vector<double> ms_;  // row-major n×n
};

}  // namespace fiberlb::lb
