#pragma once
// The balancing-policy interfaces. A Policy is immutable and shared; each worker asks it for
// a Picker built from the eligible endpoints of a snapshot and uses that Picker alone.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "config/config.h"
#include "lb/backend_state.h"

namespace fiberlb::lb {

// A backend as the current snapshot routes to it.
struct Endpoint {
  BackendState* backend = nullptr;
  int weight = 0;  // effective weight, > 0 (ineligible backends are not endpoints)
};

// Per-pick input. Kept tiny and allocation-free: it is built on the request hot path.
struct PickContext {
  uint64_t hash = 0;  // method = "hash": lb::hashKey() of the request's hash_key
  // Backends already tried for this request (retries): the picker skips them.
  const BackendState* const* tried = nullptr;
  size_t tried_count = 0;

  bool isTried(const BackendState* b) const {
    for (size_t i = 0; i < tried_count; ++i)
      if (tried[i] == b) return true;
    return false;
  }
};

// Worker-local and not thread-safe on purpose: no locks on the pick path.
class Picker {
 public:
  virtual ~Picker() = default;
  // nullptr when no endpoint is available (none eligible, or all already tried).
  virtual BackendState* pick(const PickContext& ctx) = 0;
};

class Policy {
 public:
  virtual ~Policy() = default;
  // `endpoints` outlives the picker (it belongs to the snapshot the worker holds).
  virtual std::unique_ptr<Picker> makePicker(std::span<const Endpoint> endpoints) const = 0;
};

// The registry: the shared Policy for a method name. Never null for a validated config.
const Policy& policyFor(config::Method method);

}  // namespace fiberlb::lb
