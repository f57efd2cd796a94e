#include <gtest/gtest.h>

#include <typeinfo>

#include "lb/picker.h"
#include "lb/policies/least_conn.h"
#include "lb/policies/maglev.h"
#include "lb/policies/random_p2c.h"
#include "lb/policies/round_robin.h"

namespace fiberlb::lb {
namespace {

TEST(PolicyRegistryTest, MethodsMapToTheirPolicies) {
  EXPECT_NE(dynamic_cast<const RoundRobinPolicy*>(&policyFor(config::Method::RoundRobin)), nullptr);
  EXPECT_NE(dynamic_cast<const LeastConnPolicy*>(&policyFor(config::Method::LeastConn)), nullptr);
  EXPECT_NE(dynamic_cast<const MaglevPolicy*>(&policyFor(config::Method::Hash)), nullptr);
  EXPECT_NE(dynamic_cast<const RandomP2CPolicy*>(&policyFor(config::Method::Random)), nullptr);
}

TEST(PolicyRegistryTest, PoliciesAreSingletons) {
  EXPECT_EQ(&policyFor(config::Method::RoundRobin), &policyFor(config::Method::RoundRobin));
  EXPECT_EQ(&policyFor(config::Method::LeastConn), &policyFor(config::Method::LeastConn));
}

}  // namespace
}  // namespace fiberlb::lb
