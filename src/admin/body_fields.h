#pragma once
// Reads the fields of a JSON request body with the checks SPEC §8 asks for, keeping the first
// problem as an operator-readable message ("field 'weight' must be an integer from 0 to
// 1000, got 2000") so that every handler reports bad input the same way: 400
// {"error":"invalid_request","message":...}.
//
// Field names may be paths into nested objects ("location.lat"). A handler reads every field
// it needs, then checks ok() once.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/admin/http_types.h"

namespace fiberlb::admin {

class BodyFields {
 public:
  // Parses request.body; a body that is not a JSON object is the first problem.
  explicit BodyFields(const Request& request);

  // Whether the body has `path` (a null value counts as absent).
  bool has(std::string_view path);
  // A string; a required one must not be empty.
  std::optional<std::string> string(std::string_view path, bool required);
  // A name for something new (region or node id): 1 to 128 of [A-Za-z0-9._:-], so that it is
  // safe in a URL path segment, a metric label and a log line without escaping.
  std::optional<std::string> identifier(std::string_view path, bool required);
  // An integer within [min, max].
  std::optional<int64_t> integer(std::string_view path, bool required, int64_t min, int64_t max);
  // A number (integer or not) within [min, max].
  std::optional<double> number(std::string_view path, bool required, double min, double max);

  // Records a problem the handler found itself; the first problem wins.
  void fail(std::string message);
  bool ok() const { return problem_.empty(); }
  const std::string& problem() const { return problem_; }
  // The 400 answer for the first problem.
  Response error() const;

 private:
  // The value at `path`, or nullptr when absent (a problem when `required`).
  const Json* find(std::string_view path, bool required);

  Json body_;
  std::string problem_;
};

}  // namespace fiberlb::admin
