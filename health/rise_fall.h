#pragma once
// Rise/fall hysteresis for active health checks (HAProxy's `rise`/`fall`, SPEC §3
// healthy_threshold / unhealthy_threshold): a backend changes state only after N
// consecutive results that disagree with its current state, so one lost probe does not
// flap routing.

#include <cstdint>

#include "lb/backend_state.h"

namespace fiberlb::health {

using lb::Health;
using lb::toString;

// Control loop only (one tracker per backend, fed by its checker).
class RiseFall {
 public:
  RiseFall(int rise, int fall) : rise_(rise), fall_(fall) {}

  // Records one check result; returns true when the state changed. From Unknown a single
  // pass is enough (as in Envoy: a new backend should not wait rise × interval before its
  // first request, and Unknown is already out of rotation), while going down still takes
  // `fall` consecutive failures. Once Unhealthy, coming back takes `rise` passes.
  bool record(bool passed);

  Health state() const { return state_; }
  int consecutivePasses() const { return passes_; }
  int consecutiveFailures() const { return failures_; }
  // A reload may change thresholds without losing the streak or the state.
  void setThresholds(int rise, int fall) {
    rise_ = rise;
    fall_ = fall;
  }

 private:
  int rise_;
  int fall_;
  int passes_ = 0;
  int failures_ = 0;
  Health state_ = Health::Unknown;
};

}  // namespace fiberlb::health
