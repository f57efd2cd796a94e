#include "lb/geo_math.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <numbers>
#include <utility>

namespace fiberlb::lb {

namespace {

constexpr double kRadPerDeg = std::numbers::pi / 180.0;

// The trigonometry of one point, computed once per region instead of once per pair. Half
// angles rather than whole ones: sin(Δ/2) then comes from the angle-difference identity
// sin(a − b) = sin a cos b − cos a sin b without the cancellation of 1 − cos Δ, so nearby
// regions keep full precision and identical coordinates give exactly 0.
struct Trig {
  double sin_half_lat = 0;
  double cos_half_lat = 0;
  double sin_half_lon = 0;
  double cos_half_lon = 0;
  double cos_lat = 0;
};

Trig trigOf(const GeoPoint& p) {
  const double half_lat = p.latitude * kRadPerDeg / 2.0;
  const double half_lon = p.longitude * kRadPerDeg / 2.0;
  return Trig{std::sin(half_lat), std::cos(half_lat), std::sin(half_lon), std::cos(half_lon),
              std::cos(2.0 * half_lat)};
}

// Central angle from the haversine term `h` = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2).
// Rounding can push `h` a hair above 1 (antipodal points); clamp so asin never sees a
// domain error.
double centralAngle(double h) {
  return 2.0 * std::asin(std::sqrt(std::clamp(h, 0.0, 1.0)));
}

// The haversine term from precomputed trigonometry: a few multiplications per pair.
double haversineTerm(const Trig& a, const Trig& b) {
  const double s_dlat = b.sin_half_lat * a.cos_half_lat - b.cos_half_lat * a.sin_half_lat;
  const double s_dlon = b.sin_half_lon * a.cos_half_lon - b.cos_half_lon * a.sin_half_lon;
  return s_dlat * s_dlat + a.cos_lat * b.cos_lat * s_dlon * s_dlon;
}

}  // namespace

double haversineKm(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg) {
  const double lat1 = lat1_deg * kRadPerDeg;
  const double lat2 = lat2_deg * kRadPerDeg;
  const double s_dlat = std::sin((lat2 - lat1) / 2.0);
  const double s_dlon = std::sin((lon2_deg - lon1_deg) * kRadPerDeg / 2.0);
  const double h = s_dlat * s_dlat + std::cos(lat1) * std::cos(lat2) * s_dlon * s_dlon;
  return kEarthRadiusKm * centralAngle(h);
}

double latencyMs(double lat1_deg, double lon1_deg, double lat2_deg, double lon2_deg) {
  return haversineKm(lat1_deg, lon1_deg, lat2_deg, lon2_deg) / kFibreKmPerMs;
}

LatencyMatrix::LatencyMatrix(std::vector<GeoPoint> points)
    : points_(std::move(points)), ms_(points_.size() * points_.size(), 0.0) {
  const size_t n = points_.size();
  std::vector<Trig> trig;
  trig.reserve(n);
  for (const GeoPoint& p : points_)
    trig.push_back(trigOf(p));
  constexpr double kMsPerRadian = kEarthRadiusKm / kFibreKmPerMs;
  // The matrix is symmetric: compute the upper triangle and mirror it.
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      const double ms = kMsPerRadian * centralAngle(haversineTerm(trig[i], trig[j]));
      ms_[i * n + j] = ms;
      ms_[j * n + i] = ms;
    }
  }
}

size_t LatencyMatrix::indexOf(std::string_view id) const {
  for (size_t i = 0; i < points_.size(); ++i)
    if (points_[i].id == id) return i;
  return points_.size();
}

double LatencyMatrix::between(std::string_view a, std::string_view b) const {
  const size_t i = indexOf(a);
  const size_t j = indexOf(b);
  if (i == size() || j == size()) return -1.0;
  return at(i, j);
}

std::vector<size_t> LatencyMatrix::nearest(size_t i, size_t k) const {
  const size_t n = size();
  if (i >= n) return {};
  std::vector<size_t> others;
  others.reserve(n - 1);
  for (size_t j = 0; j < n; ++j)
    if (j != i) others.push_back(j);
  k = std::min(k, others.size());
  // Ties by id keep replication groups stable regardless of declaration order.
  const auto closer = [&](size_t a, size_t b) {
    const double da = at(i, a);
    const double db = at(i, b);
    if (da != db) return da < db;
    return points_[a].id < points_[b].id;
  };
  std::partial_sort(others.begin(), others.begin() + static_cast<std::ptrdiff_t>(k), others.end(),
                    closer);
  others.resize(k);
  return others;
}

}  // namespace fiberlb::lb
