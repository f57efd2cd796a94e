#pragma once
// The admin API's view of an HTTP exchange: a fully received request (head and body, owned
// strings — admin traffic is tiny, so clarity beats zero-copy here) and the response a
// handler returns. The server turns a Response into bytes; handlers never see sockets.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace fiberlb::admin {

// Insertion-ordered JSON: keys come out in the order handlers write them, which is the
// order a human reading `curl` output expects.
using Json = nlohmann::ordered_json;

// Largest request body the admin API reads (SPEC §8 bodies are small JSON objects).
inline constexpr size_t kMaxBodyBytes = size_t{1024} * 1024;

struct Request {
  std::string method;  // "GET", "POST", ... (HEAD is routed as GET by the server)
  std::string target;  // as received
  std::string path;    // target up to '?', not decoded (the router decodes segments)
  std::string query;   // after '?', without it
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  std::map<std::string, std::string, std::less<>> params;  // {name} segments, decoded

  // First value of header `name` (lower-case), or nullptr.
  const std::string* header(std::string_view name) const;
  // Value of query parameter `name` (percent-decoded), or nullopt.
  std::optional<std::string> queryParam(std::string_view name) const;
  // The path parameter `name`, or "" (only for patterns that declare it).
  const std::string& param(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra, e.g. Allow
};

// 200 (or `status`) with `body` serialised; invalid UTF-8 is replaced, never thrown on.
Response jsonResponse(const Json& body, int status = 200);
// SPEC §8 error shape: {"error":"<code>","message":"..."}.
Response errorResponse(int status, std::string_view code, std::string_view message);
// Standard reason phrase for the status line ("OK", "Not Found", ...).
const char* reasonPhrase(int status);
// Decodes %XX and, when `plus_is_space`, '+' (query strings). Malformed escapes stay as is.
std::string percentDecode(std::string_view in, bool plus_is_space);

}  // namespace fiberlb::admin
