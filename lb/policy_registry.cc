// The method -> Policy registry. Adding a policy is one file pair under lb/policies/ plus one
// case below.

#include "lb/picker.h"
#include "lb/policies/least_conn.h"
#include "lb/policies/maglev.h"
#include "lb/policies/random_p2c.h"
#include "lb/policies/round_robin.h"

namespace fiberlb::lb {

const Policy& policyFor(config::Method method) {
  // Policies are stateless and immutable, so one function-local static each is shared by all
  // threads; C++ guarantees thread-safe initialisation. Safe from any thread.
  static const RoundRobinPolicy round_robin;
  static const LeastConnPolicy least_conn;
  static const MaglevPolicy maglev;
  static const RandomP2CPolicy random_p2c;
  switch (method) {
    case config::Method::RoundRobin:
      return round_robin;
    case config::Method::LeastConn:
      return least_conn;
    case config::Method::Hash:
      return maglev;
    case config::Method::Random:
      return random_p2c;
  }
  return round_robin;  // unreachable for valid enum values
}

}  // namespace fiberlb::lb
