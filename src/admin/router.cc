#include "src/admin/router.h"

#include <algorithm>
#include <exception>

#include "src/util/log.h"

namespace fiberlb::admin {

void Router::add(std::string_view method, std::string_view pattern, Handler handler) {
  Route route;
  route.method = std::string(method);
  for (std::string& s : splitPath(pattern)) {
    Segment seg;
    if (s.size() >= 2 && s.front() == '{' && s.back() == '}') {
      seg.param = true;
      seg.text = s.substr(1, s.size() - 2);
    } else {
      seg.text = std::move(s);
    }
    route.segments.push_back(std::move(seg));
  }
  route.handler = std::move(handler);
  routes_.push_back(std::move(route));
}

// "/a/b/" and "/a/b" are the same resource; "//" collapses. Segments stay percent-encoded
// here so that an encoded '/' inside a parameter cannot split it.
std::vector<std::string> Router::splitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > pos) out.emplace_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

bool Router::matches(const Route& route, const std::vector<std::string>& segments,
                     Request* request) {
  if (route.segments.size() != segments.size()) return false;
  for (size_t i = 0; i < segments.size(); ++i) {
    const Segment& seg = route.segments[i];
    if (seg.param) continue;
    if (seg.text != segments[i]) return false;
  }
  if (request != nullptr) {
    request->params.clear();
    for (size_t i = 0; i < segments.size(); ++i)
      if (route.segments[i].param)
        request->params[route.segments[i].text] = percentDecode(segments[i], false);
  }
  return true;
}

Response Router::dispatch(Request& request) const {
  if (guard_) {
    if (std::optional<Response> refused = guard_(request)) return std::move(*refused);
  }
  const std::vector<std::string> segments = splitPath(request.path);
  std::string_view method = request.method;
  if (method == "HEAD") method = "GET";
  std::vector<std::string_view> allowed;
  auto allow = [&allowed](std::string_view m) {
    if (std::find(allowed.begin(), allowed.end(), m) == allowed.end()) allowed.push_back(m);
  };
  for (const Route& route : routes_) {
    if (!matches(route, segments, nullptr)) continue;
    if (route.method != method) {
      allow(route.method);
      if (route.method == "GET") allow("HEAD");
      continue;
    }
    matches(route, segments, &request);
    try {
      return route.handler(request);
    } catch (const std::exception& e) {
      FLB_LOG(Error, "admin API: %s %s failed: %s", request.method.c_str(), request.path.c_str(),
              e.what());
      return errorResponse(500, "internal_error", e.what());
    }
  }
  if (allowed.empty()) return errorResponse(404, "not_found", "no such resource: " + request.path);
  std::string list;
  for (std::string_view m : allowed)
    list.append(list.empty() ? "" : ", ").append(m);
  Response r = errorResponse(
      405, "method_not_allowed",
      request.method + " is not allowed on " + request.path + " (allowed: " + list + ")");
  r.headers.emplace_back("Allow", list);
  return r;
}

}  // namespace fiberlb::admin
