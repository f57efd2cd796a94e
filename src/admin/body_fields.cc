#include "src/admin/body_fields.h"

#include <algorithm>
#include <cctype>
#include <limits>

namespace fiberlb::admin {
namespace {

constexpr size_t kMaxIdentifier = 128;

// "string", "number", ... as a client would name the type it sent.
const char* typeName(const Json& v) {
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_array()) return "an array";
  if (v.is_object()) return "an object";
  return "null";
}

std::string field(std::string_view path) {
  return "field '" + std::string(path) + "'";
}

std::string formatNumber(double v) {
  return Json(v).dump();
}

}  // namespace

BodyFields::BodyFields(const Request& request) {
  try {
    body_ = Json::parse(request.body);
  } catch (const Json::parse_error& e) {
    // e.what() starts with "[json.exception.parse_error.101] ": library noise.
    std::string what = e.what();
    const size_t bracket = what.find("] ");
    problem_ = "the request body is not valid JSON: " +
               (bracket == std::string::npos ? what : what.substr(bracket + 2));
    return;
  }
  if (!body_.is_object())
    problem_ = std::string("the request body must be a JSON object, got ") + typeName(body_);
}

const Json* BodyFields::find(std::string_view path, bool required) {
  if (!ok()) return nullptr;
  const Json* at = &body_;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string key(path.substr(start, dot == std::string_view::npos ? dot : dot - start));
    auto it = at->find(key);
    if (it == at->end() || it->is_null()) break;
    at = &*it;
    if (dot == std::string_view::npos) return at;
    if (!at->is_object()) {
      fail(field(path.substr(0, dot)) + " must be an object, got " + typeName(*at));
      return nullptr;
    }
    start = dot + 1;
  }
  if (required) fail(field(path) + " is required");
  return nullptr;
}

bool BodyFields::has(std::string_view path) {
  const std::string saved = problem_;
  const bool found = find(path, false) != nullptr;
  problem_ = saved;  // a probe, not a check
  return found;
}

std::optional<std::string> BodyFields::string(std::string_view path, bool required) {
  const Json* v = find(path, required);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    fail(field(path) + " must be a string, got " + typeName(*v));
    return std::nullopt;
  }
  std::string s = v->get<std::string>();
  if (required && s.empty()) {
    fail(field(path) + " must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> BodyFields::identifier(std::string_view path, bool required) {
  std::optional<std::string> s = string(path, required);
  if (!s || s->empty()) return s;
  const bool valid =
      s->size() <= kMaxIdentifier && std::all_of(s->begin(), s->end(), [](unsigned char c) {
        return std::isalnum(c) != 0 || c == '.' || c == '_' || c == ':' || c == '-';
      });
  if (!valid) {
    fail(field(path) + " must be 1 to " + std::to_string(kMaxIdentifier) +
         " letters, digits, '.', '_', ':' or '-', got " + Json(*s).dump());
    return std::nullopt;
  }
  return s;
}

std::optional<int64_t> BodyFields::integer(std::string_view path, bool required, int64_t min,
                                           int64_t max) {
  const Json* v = find(path, required);
  if (v == nullptr) return std::nullopt;
  const std::string range = " from " + std::to_string(min) + " to " + std::to_string(max);
  if (!v->is_number_integer()) {
    fail(field(path) + " must be an integer" + range + ", got " + typeName(*v));
    return std::nullopt;
  }
  const bool too_big =
      v->is_number_unsigned() &&
      v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  const int64_t value = too_big ? std::numeric_limits<int64_t>::max() : v->get<int64_t>();
  if (too_big || value < min || value > max) {
    fail(field(path) + " must be an integer" + range + ", got " + v->dump());
    return std::nullopt;
  }
  return value;
}

std::optional<double> BodyFields::number(std::string_view path, bool required, double min,
                                         double max) {
  const Json* v = find(path, required);
  if (v == nullptr) return std::nullopt;
  const std::string range = " from " + formatNumber(min) + " to " + formatNumber(max);
  if (!v->is_number()) {
    fail(field(path) + " must be a number" + range + ", got " + typeName(*v));
    return std::nullopt;
  }
  const double value = v->get<double>();
  if (!(value >= min && value <= max)) {
    fail(field(path) + " must be a number" + range + ", got " + v->dump());
    return std::nullopt;
  }
  return value;
}

void BodyFields::fail(std::string message) {
  if (problem_.empty()) problem_ = std::move(message);
}

Response BodyFields::error() const {
  return errorResponse(400, "invalid_request", problem_);
}

}  // namespace fiberlb::admin
