#include "tests/support/admin_json.h"

#include <sstream>

#include "tests/support/deadline.h"
#include "tests/support/http_client.h"

namespace fiberlb::testing {

nlohmann::json adminJson(uint16_t port, const std::string& path) {
  Response r = fetch(port, getRequest(path), deadlineIn(5000));
  if (!r.ok() || r.status != 200) return nlohmann::json(nlohmann::json::value_t::discarded);
  return nlohmann::json::parse(r.body, nullptr, /*allow_exceptions=*/false);
}

Response adminRequest(uint16_t port, const std::string& method, const std::string& path,
                      const std::string& body) {
  std::string request = method + " " + path + " HTTP/1.1\r\nHost: admin.test\r\n";
  if (!body.empty() || method != "GET") {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  request += "Connection: close\r\n\r\n" + body;
  return fetch(port, request, deadlineIn(5000));
}

double metricTotal(uint16_t port, const std::string& name,
                   const std::map<std::string, std::string>& labels) {
  Response r = fetch(port, getRequest("/metrics"), deadlineIn(5000));
  if (!r.ok() || r.status != 200) return -1;
  double sum = 0;
  std::istringstream in(r.body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name, 0) != 0) continue;
    const std::string rest = line.substr(name.size());
    if (rest.empty() || (rest[0] != '{' && rest[0] != ' ')) continue;  // a longer name
    bool all = true;
    for (const auto& [key, value] : labels)
      all = all && rest.find(key + "=\"" + value + "\"") != std::string::npos;
    if (all) sum += std::stod(rest.substr(rest.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace fiberlb::testing
