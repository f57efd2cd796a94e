#include <gtest/gtest.h>

#include <typeinfo>

#include "lb/picker.h"
#include "lb/policies/least_conn.h"
#include "lb/policies/round_robin.h"

namespace fiberlb::lb {
namespace {

TEST(PolicyRegistryTest, MethodsMapToTheirPolicies) {
  EXPECT_NE(dynamic_cast<const RoundRobinPolicy*>(&policyFor(config::Method::RoundRobin)), nullptr);
  EXPECT_NE(dynamic_cast<const LeastConnPolicy*>(&policyFor(config::Method::LeastConn)), nullptr);
}

TEST(PolicyRegistryTest, PoliciesAreSingletons) {
  EXPECT_EQ(&policyFor(config::Method::RoundRobin), &policyFor(config::Method::RoundRobin));
  EXPECT_EQ(&policyFor(config::Method::LeastConn), &policyFor(config::Method::LeastConn));
}

// Hash and Random are not implemented yet and route like round-robin until they are.
TEST(PolicyRegistryTest, UnimplementedMethodsFallBackToRoundRobin) {
  EXPECT_EQ(&policyFor(config::Method::Hash), &policyFor(config::Method::RoundRobin));
  EXPECT_EQ(&policyFor(config::Method::Random), &policyFor(config::Method::RoundRobin));
}

}  // namespace
}  // namespace fiberlb::lb
