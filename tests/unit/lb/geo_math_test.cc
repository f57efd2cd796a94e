#include "lb/geo_math.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <numbers>
#include <string>
#include <vector>

namespace fiberlb::lb {
namespace {

// The five default regions of SPEC §3, in declaration order.
std::vector<GeoPoint> defaultRegions() {
  return {
      {"ap-northeast-1", 35.68, 139.69}, {"us-east-1", 39.04, -77.49},
      {"us-west-2", 45.52, -122.68},     {"eu-west-1", 53.33, -6.25},
      {"ap-southeast-1", 1.35, 103.82},
  };
}

std::vector<std::string> idsOf(const LatencyMatrix& m, const std::vector<size_t>& indexes) {
  std::vector<std::string> ids;
  for (size_t i : indexes)
    ids.push_back(m.point(i).id);
  return ids;
}

TEST(GeoMath, TokyoToNorthVirginiaIsAbout54Ms) {
  // The SPEC's own reference figure.
  EXPECT_NEAR(latencyMs(35.68, 139.69, 39.04, -77.49), 54.4, 0.2);
  EXPECT_NEAR(haversineKm(35.68, 139.69, 39.04, -77.49), 10872.0, 5.0);
}

TEST(GeoMath, HaversineBasics) {
  EXPECT_DOUBLE_EQ(haversineKm(10, 20, 10, 20), 0.0);
  // A quarter of the equator, and pole to pole: exact multiples of the radius.
  EXPECT_NEAR(haversineKm(0, 0, 0, 90), kEarthRadiusKm * std::numbers::pi / 2, 1e-6);
  EXPECT_NEAR(haversineKm(90, 0, -90, 0), kEarthRadiusKm * std::numbers::pi, 1e-6);
  // Across the antimeridian is the short way round, not 359 degrees.
  EXPECT_NEAR(haversineKm(0, 179.5, 0, -179.5), haversineKm(0, 0, 0, 1), 1e-9);
}

TEST(LatencyMatrix, MatchesPairwiseFormulaForDefaultRegions) {
  const std::vector<GeoPoint> points = defaultRegions();
  const LatencyMatrix m(points);
  ASSERT_EQ(m.size(), 5u);
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m.point(i).id, points[i].id);
    for (size_t j = 0; j < m.size(); ++j) {
      const double expected = latencyMs(points[i].latitude, points[i].longitude, points[j].latitude,
                                        points[j].longitude);
      EXPECT_NEAR(m.at(i, j), expected, 1e-9) << points[i].id << " -> " << points[j].id;
    }
  }
  EXPECT_NEAR(m.between("ap-northeast-1", "us-east-1"), 54.4, 0.2);
  EXPECT_NEAR(m.between("us-east-1", "us-west-2"), 18.7, 0.1);
  EXPECT_NEAR(m.between("eu-west-1", "ap-southeast-1"), 56.0, 0.1);
}

TEST(LatencyMatrix, ZeroOnDiagonalAndSymmetric) {
  const LatencyMatrix m(defaultRegions());
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(m.at(i, i), 0.0);
    for (size_t j = 0; j < m.size(); ++j) {
      EXPECT_EQ(m.at(i, j), m.at(j, i));
      if (i != j) {
        EXPECT_GT(m.at(i, j), 0.0);
      }
    }
  }
}

TEST(LatencyMatrix, IdenticalCoordinatesAreExactlyZeroApart) {
  const LatencyMatrix m({{"a", 48.85, 2.35}, {"b", 48.85, 2.35}});
  EXPECT_EQ(m.at(0, 1), 0.0);
}

TEST(LatencyMatrix, NearbyRegionsKeepPrecision) {
  // About 1.1 km apart: the matrix must not lose this to rounding.
  const LatencyMatrix m({{"a", 0.0, 0.0}, {"b", 0.01, 0.0}});
  EXPECT_NEAR(m.at(0, 1), latencyMs(0, 0, 0.01, 0), 1e-12);
  EXPECT_NEAR(m.at(0, 1), 1.112 / kFibreKmPerMs, 1e-4);
}

TEST(LatencyMatrix, NearestDefaultRegions) {
  const LatencyMatrix m(defaultRegions());
  const size_t tokyo = m.indexOf("ap-northeast-1");
  EXPECT_EQ(idsOf(m, m.nearest(tokyo, 2)),
            (std::vector<std::string>{"ap-southeast-1", "us-west-2"}));
  EXPECT_EQ(idsOf(m, m.nearest(m.indexOf("us-east-1"), 3)),
            (std::vector<std::string>{"us-west-2", "eu-west-1", "ap-northeast-1"}));
  // Never itself, and k beyond the others is capped.
  EXPECT_EQ(idsOf(m, m.nearest(tokyo, 10)),
            (std::vector<std::string>{"ap-southeast-1", "us-west-2", "eu-west-1", "us-east-1"}));
  EXPECT_TRUE(m.nearest(tokyo, 0).empty());
  EXPECT_TRUE(m.nearest(m.size(), 2).empty());
}

TEST(LatencyMatrix, NearestTiesBrokenById) {
  // "c", "a" and "b" share coordinates, so they are equally far from "origin"; declared out
  // of order to show the id, not the position, decides.
  const LatencyMatrix m(
      {{"origin", 0, 0}, {"far", 0, 40}, {"c", 0, 10}, {"a", 0, 10}, {"b", 0, 10}});
  EXPECT_EQ(idsOf(m, m.nearest(0, 4)), (std::vector<std::string>{"a", "b", "c", "far"}));
  EXPECT_EQ(idsOf(m, m.nearest(0, 2)), (std::vector<std::string>{"a", "b"}));
}

TEST(LatencyMatrix, NearestTiesOnSymmetricPoints) {
  // Four points 10 degrees from the origin along the axes: the same distance by symmetry.
  const LatencyMatrix m(
      {{"origin", 0, 0}, {"west", 0, -10}, {"north", 10, 0}, {"east", 0, 10}, {"south", -10, 0}});
  EXPECT_EQ(idsOf(m, m.nearest(0, 4)),
            (std::vector<std::string>{"east", "north", "south", "west"}));
}

TEST(LatencyMatrix, UnknownIds) {
  const LatencyMatrix m(defaultRegions());
  EXPECT_EQ(m.indexOf("us-east-1"), 1u);
  EXPECT_EQ(m.indexOf("mars-1"), m.size());
  EXPECT_LT(m.between("mars-1", "us-east-1"), 0.0);
  EXPECT_LT(m.between("us-east-1", "mars-1"), 0.0);
  EXPECT_EQ(m.between("us-east-1", "us-east-1"), 0.0);
}

TEST(LatencyMatrix, EmptyMatrix) {
  const LatencyMatrix m;
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.indexOf("x"), 0u);
  EXPECT_LT(m.between("x", "y"), 0.0);
  EXPECT_TRUE(m.nearest(0, 3).empty());
}

}  // namespace
}  // namespace fiberlb::lb
