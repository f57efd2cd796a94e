#pragma once
// Reading fiberlb's admin API as JSON in integration tests.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace fiberlb::testing {

// GET `path` on the admin API at 127.0.0.1:`port` as JSON; a discarded value on any failure
// (no answer, a status other than 200, a body that is not JSON).
nlohmann::json adminJson(uint16_t port, const std::string& path);

}  // namespace fiberlb::testing
