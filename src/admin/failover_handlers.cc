// POST /api/geo/failover and GET /api/geo/failover/history (SPEC §4, §8): an operator's
// switch of the active region, and every switch so far, newest first.

#include <charconv>
#include <optional>
#include <string>

#include "src/admin/body_fields.h"
#include "src/admin/handlers.h"
#include "src/admin/json_views.h"

namespace fiberlb::admin {
namespace {

constexpr size_t kDefaultHistoryLimit = 20;
constexpr size_t kMaxHistoryLimit = 1000;

// ?limit=: a positive integer, capped at kMaxHistoryLimit; nullopt when it is not one.
std::optional<size_t> parseLimit(const std::optional<std::string>& text) {
  if (!text) return kDefaultHistoryLimit;
  const char* begin = text->data();
  const char* end = begin + text->size();
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (text->empty() || ptr != end || (ec != std::errc() && ec != std::errc::result_out_of_range))
    return std::nullopt;
  if (ec == std::errc() && value < 1) return std::nullopt;
  if (ec == std::errc::result_out_of_range || value > kMaxHistoryLimit) return kMaxHistoryLimit;
  return static_cast<size_t>(value);
}

}  // namespace

Response postFailover(const Request& request, AdminActions& actions) {
  BodyFields f(request);
  const std::string from = f.string("from_region", false).value_or("");
  std::optional<std::string> to = f.string("to_region", true);
  const std::string reason = f.string("reason", false).value_or("manual failover");
  const std::string by = f.string("triggered_by", false).value_or("api");
  if (!f.ok()) return f.error();
  const ActionResult result = actions.failover(
      from, *to, reason.empty() ? "manual failover" : reason, by.empty() ? "api" : by);
  if (!result.ok()) return errorFrom(result);
  return jsonResponse(Json{
      {"status", "failover_executed"},
      {"event", result.event ? eventJson(*result.event) : Json(nullptr)},
  });
}

Response failoverHistoryResponse(const Request& request, const AdminSource& source) {
  const std::optional<std::string> text = request.queryParam("limit");
  const std::optional<size_t> limit = parseLimit(text);
  if (!limit)
    return errorResponse(400, "invalid_request",
                         "limit must be a positive integer (at most " +
                             std::to_string(kMaxHistoryLimit) + "), got '" + text.value_or("") +
                             "'");
  Json out = Json::array();
  for (const lb::FailoverEvent& e : source.failover().history()) {  // newest first
    if (out.size() >= *limit) break;
    out.push_back(eventJson(e));
  }
  return jsonResponse(out);
}

}  // namespace fiberlb::admin
