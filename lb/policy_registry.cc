// The method -> Policy registry. Adding a policy is one file pair under lb/policies/ plus one
// case below.

#include "lb/picker.h"
#include "lb/policies/least_conn.h"
#include "lb/policies/round_robin.h"

namespace fiberlb::lb {

const Policy& policyFor(config::Method method) {
  // Policies are stateless and immutable, so one function-local static each is shared by all
  // threads; C++ guarantees thread-safe initialisation. Safe from any thread.
  static const RoundRobinPolicy round_robin;
  static const LeastConnPolicy least_conn;
  switch (method) {
    case config::Method::RoundRobin:
      return round_robin;
    case config::Method::LeastConn:
      return least_conn;
    case config::Method::Hash:    // consistent hashing (xxHash) arrives in a later issue
    case config::Method::Random:  // power-of-two-choices arrives in a later issue
      // Until then both route like round-robin; the config loader warns about it.
      return round_robin;
  }
  return round_robin;  // unreachable for valid enum values
}

}  // namespace fiberlb::lb
