#pragma once
// Reading fiberlb's admin API as JSON in integration tests.

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/http_client.h"

namespace fiberlb::testing {

// GET `path` on the admin API at 127.0.0.1:`port` as JSON; a discarded value on any failure
// (no answer, a status other than 200, a body that is not JSON).
nlohmann::json adminJson(uint16_t port, const std::string& path);

// `method` `path` on the admin API at 127.0.0.1:`port` with `body` sent as JSON (with a
// Content-Length whenever there is a body or the method is not GET), on a fresh connection
// closed afterwards. The raw response; check ok() and status.
Response adminRequest(uint16_t port, const std::string& method, const std::string& path,
                      const std::string& body = "");

// Sum of the samples of metric `name` in GET /metrics whose labels include every pair of
// `labels` (0 when there is none); -1 when /metrics cannot be read.
double metricTotal(uint16_t port, const std::string& name,
                   const std::map<std::string, std::string>& labels = {});

}  // namespace fiberlb::testing
