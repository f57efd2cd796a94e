#include "lb/backend_state.h"

namespace fiberlb::lb {

const char* toString(Health h) {
  switch (h) {
    case Health::Healthy:
      return "healthy";
    case Health::Unhealthy:
      return "unhealthy";
    case Health::Unknown:
      break;
  }
  return "unknown";
}

}  // namespace fiberlb::lb
