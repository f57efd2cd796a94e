#include "health/rise_fall.h"

namespace fiberlb::health {

bool RiseFall::record(bool passed) {
  if (passed) {
    ++passes_;
    failures_ = 0;
    if (state_ != Health::Healthy && (passes_ >= rise_ || state_ == Health::Unknown)) {
      state_ = Health::Healthy;
      return true;
    }
  } else {
    ++failures_;
    passes_ = 0;
    if (state_ != Health::Unhealthy && failures_ >= fall_) {
      state_ = Health::Unhealthy;
      return true;
    }
  }
  return false;
}

}  // namespace fiberlb::health
