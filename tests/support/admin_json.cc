#include "tests/support/admin_json.h"

#include "tests/support/deadline.h"
#include "tests/support/http_client.h"

namespace fiberlb::testing {

nlohmann::json adminJson(uint16_t port, const std::string& path) {
  Response r = fetch(port, getRequest(path), deadlineIn(5000));
  if (!r.ok() || r.status != 200) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

}  // namespace fiberlb::testing
