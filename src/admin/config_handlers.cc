// POST /api/config/reload (SPEC §3 "Reload"): the same atomic reload as SIGHUP, answering
// with what changed, or with the validation errors while the running config stays.

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

}  // namespace fiberlb::admin
