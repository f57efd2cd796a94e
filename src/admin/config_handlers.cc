// POST /api/config/reload (SPEC §3 "Reload"): the same atomic reload as SIGHUP, answering
// with what changed, or with the validation errors while the running config stays.
// GET /api/config/reload: how the last reload went, whoever triggered it — the place an
// operator whose edit of the file did not take effect finds out why.

#include "lb/failover_manager.h"
#include "src/admin/handlers.h"
#include "src/admin/json_views.h"

namespace fiberlb::admin {

Response postReload(AdminActions& actions) {
  const ActionResult result = actions.reload();
  if (!result.ok()) return errorFrom(result);
  const ActionResult::Changes& c = result.changes;
  return jsonResponse(Json{
      {"status", "reloaded"},
      {"changes", Json{{"added", c.added}, {"removed", c.removed}, {"modified", c.modified}}},
      {"message", result.message},
  });
}

Response getReloadStatus(const AdminSource& source) {
  const ControlCounters counters = source.controlCounters();
  Json last = nullptr;
  if (const auto& r = counters.last_reload) {
    last = Json{
        {"trigger", r->trigger},
        {"result", r->ok ? "success" : "failure"},
        {"error", r->error},
        {"warnings", r->warnings},
        {"at", lb::rfc3339Utc(r->at_unix_ms)},
        {"changes", Json{{"added", r->changes.added},
                         {"removed", r->changes.removed},
                         {"modified", r->changes.modified}}},
    };
  }
  return jsonResponse(Json{
      {"last_reload", last},
      {"config_path", counters.config_path},
      {"watching", counters.watching_config},
  });
}

}  // namespace fiberlb::admin
