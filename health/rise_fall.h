#pragma once
// Rise/fall hysteresis for active health checks (HAProxy's `rise`/`fall`, SPEC §3
// healthy_threshold / unhealthy_threshold): a backend changes state only after N
// consecutive results that disagree with its current state, so one lost probe does not
// flap routing.

#include <cstdint>

namespace fiberlb::health {

enum class Health : uint8_t { Unknown, Healthy, Unhealthy };

const char* toString(Health h);

// Control loop only (one tracker per backend, fed by its checker).
class RiseFall {
 public:
  RiseFall(int rise, int fall) : rise_(rise), fall_(fall) {}

  // Records one check result; returns true when the state changed. From Unknown, the
  // first verdict needs the full threshold too, except that a first failure streak of
  // `fall` marks the backend down as early as a healthy one would come up.
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
