#pragma once
// Method + path pattern -> handler. Patterns are '/'-separated segments, each either a
// literal or a `{name}` parameter that matches one non-empty segment ("/api/geo/regions/
// {region_id}"). A path that matches some pattern but not with this method is a 405 with an
// Allow header; a path that matches nothing is a 404; both in the SPEC §8 error shape.
// An optional guard runs before any route (the admin token check): one place, so that no
// handler can forget it.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/admin/http_types.h"

namespace fiberlb::admin {

class Router {
 public:
  using Handler = std::function<Response(const Request&)>;
  // Returns the answer that refuses `request`, or nullopt to let it through.
  using Guard = std::function<std::optional<Response>(const Request&)>;

  // Registers `handler` for `method` ("GET", "POST", ...) on `pattern`. A GET route also
  // answers HEAD (the server drops the body). Control loop only, before serving.
  void add(std::string_view method, std::string_view pattern, Handler handler);
  // Installs the guard every request passes before routing. Control loop only.
  void setGuard(Guard guard) { guard_ = std::move(guard); }

  // Runs the guard, then finds the route for `request`, fills request.params and runs the
  // handler. Exceptions from a handler become a 500 so that a bug answers instead of killing the
  // control loop. Control loop only.
  Response dispatch(Request& request) const;

 private:
  struct Segment {
    std::string text;  // literal text, or the parameter name
    bool param = false;
  };
  struct Route {
    std::string method;
    std::vector<Segment> segments;
    Handler handler;
  };

  static std::vector<std::string> splitPath(std::string_view path);
  static bool matches(const Route& route, const std::vector<std::string>& segments,
                      Request* request);

  std::vector<Route> routes_;
  Guard guard_;
};

}  // namespace fiberlb::admin
