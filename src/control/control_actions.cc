// The operator actions of the admin API (admin::AdminActions), on the control loop. Each one
// checks its request against the running state, applies it through the same path a reload
// uses (file config + admin overlay -> snapshot), persists it in the state file and returns
// what happened in words the operator can act on.

#include <xxhash.h>

#include <algorithm>

#include "config/config_diff.h"
#include "config/config_files.h"
#include "lb/snapshot_builder.h"
#include "src/control/control_loop.h"
#include "src/util/log.h"
#include "src/util/wall_clock.h"

namespace fiberlb::control {
namespace {

const config::Region* findRegion(const config::Config& cfg, const std::string& id) {
  for (const config::Region& r : cfg.geo.regions)
    if (r.id == id) return &r;
  return nullptr;
}

const config::LoadBalancer* findLb(const config::Config& cfg, const std::string& name) {
  for (const config::LoadBalancer& lb : cfg.loadbalancers)
    if (lb.name == name) return &lb;
  return nullptr;
}

const config::Backend* findBackend(const config::LoadBalancer& lb, const std::string& name) {
  for (const config::Backend& b : lb.backends)
    if (b.name == name) return &b;
  return nullptr;
}

bool sameNode(const std::string& lb, const std::string& name, const std::string& other_lb,
              const std::string& other_name) {
  return lb == other_lb && name == other_name;
}

std::string joinDiagnostics(const std::vector<config::Diagnostic>& errors) {
  std::string out;
  for (const config::Diagnostic& e : errors)
    out += (out.empty() ? "" : "; ") + e.str();
  return out;
}

constexpr const char* kNotPersisted =
    "; warning: the state file could not be written (see the log), so this change will not "
    "survive a restart";

}  // namespace

std::optional<admin::ActionResult> ControlLoop::refuseWhileShuttingDown() const {
  if (!shutting_down_) return std::nullopt;
  return admin::ActionResult::fail(409, "shutting_down",
                                   "fiberlb is shutting down and accepts no more changes");
}

admin::ActionResult ControlLoop::switchRegion(const std::string& from, const std::string& to,
                                              const std::string& reason,
                                              const std::string& triggered_by) {
  if (auto refused = refuseWhileShuttingDown()) return *refused;
  if (findRegion(*config_, to) == nullptr)
    return admin::ActionResult::fail(404, "not_found", "region \"" + to + "\" does not exist");
  std::string error;
  bool conflict = false;
  auto event = failover_.manualSwitch(current_->snapshot->regions, from, to, reason, triggered_by,
                                      util::unixNowMs(), &error, &conflict);
  if (!event)
    return admin::ActionResult::fail(conflict ? 409 : 404, conflict ? "conflict" : "not_found",
                                     error);
  recordFailover(*event);
  rebuild();
  const bool saved = saveState();
  admin::ActionResult result;
  result.message = "active region is now " + failover_.active() + (saved ? "" : kNotPersisted);
  result.event = *event;
  return result;
}

admin::ActionResult ControlLoop::failover(const std::string& from, const std::string& to,
                                          const std::string& reason,
                                          const std::string& triggered_by) {
  return switchRegion(from, to, reason.empty() ? "manual failover" : reason,
                      triggered_by.empty() ? "api" : triggered_by);
}

admin::ActionResult ControlLoop::setActiveRegion(const std::string& region_id) {
  return switchRegion("", region_id, "active region set through the admin API", "api");
}

admin::ActionResult ControlLoop::addRegion(const config::Region& region) {
  if (findRegion(*config_, region.id) != nullptr)
    return admin::ActionResult::fail(409, "conflict",
                                     "region \"" + region.id + "\" already exists");
  lb::AdminOverlay next = overlay_;
  std::erase(next.regions_removed, region.id);
  if (findRegion(*file_config_, region.id) == nullptr) next.regions_added.push_back(region);
  return applyOverlay(std::move(next), 201, "region " + region.id + " added");
}

admin::ActionResult ControlLoop::deleteRegion(const std::string& region_id) {
  if (findRegion(*config_, region_id) == nullptr)
    return admin::ActionResult::fail(404, "not_found",
                                     "region \"" + region_id + "\" does not exist");
  if (region_id == failover_.active())
    return admin::ActionResult::fail(
        409, "conflict",
        "region \"" + region_id + "\" is the active region; fail over to another region first");
  size_t nodes = 0;
  for (const config::LoadBalancer& lb : config_->loadbalancers)
    nodes += std::count_if(lb.backends.begin(), lb.backends.end(),
                           [&](const config::Backend& b) { return b.region == region_id; });
  if (region_id == file_config_->geo.active_region)
    return admin::ActionResult::fail(409, "conflict",
                                     "region \"" + region_id +
                                         "\" is geo.active_region in the config file; change "
                                         "the file first");
  if (nodes > 0)
    return admin::ActionResult::fail(409, "conflict",
                                     "region \"" + region_id + "\" still holds " +
                                         std::to_string(nodes) +
                                         " backend(s); remove or move them first");
  lb::AdminOverlay next = overlay_;
  auto added = std::find_if(next.regions_added.begin(), next.regions_added.end(),
                            [&](const config::Region& r) { return r.id == region_id; });
  if (added != next.regions_added.end())
    next.regions_added.erase(added);
  else
    next.regions_removed.push_back(region_id);
  return applyOverlay(std::move(next), 200, "region " + region_id + " deleted");
}

admin::ActionResult ControlLoop::addNode(const std::string& lb_name, const config::Backend& node) {
  std::string lb = lb_name;
  if (lb.empty()) {
    if (config_->loadbalancers.size() != 1)
      return admin::ActionResult::fail(400, "invalid_request",
                                       "\"loadbalancer\" is required: there are " +
                                           std::to_string(config_->loadbalancers.size()) +
                                           " load balancers");
    lb = config_->loadbalancers.front().name;
  }
  const config::LoadBalancer* target = findLb(*config_, lb);
  if (target == nullptr)
    return admin::ActionResult::fail(404, "not_found",
                                     "load balancer \"" + lb + "\" does not exist");
  if (findRegion(*config_, node.region) == nullptr)
    return admin::ActionResult::fail(404, "not_found",
                                     "region \"" + node.region + "\" does not exist");
  if (findBackend(*target, node.name) != nullptr)
    return admin::ActionResult::fail(
        409, "conflict",
        "load balancer \"" + lb + "\" already has a backend named \"" + node.name + "\"");
  lb::AdminOverlay next = overlay_;
  std::erase_if(next.nodes_removed,
                [&](const lb::NodeRef& r) { return sameNode(r.lb, r.name, lb, node.name); });
  std::erase_if(next.patches, [&](const lb::BackendPatch& p) {
    return sameNode(p.lb, p.backend, lb, node.name);
  });
  next.nodes_added.push_back(lb::AddedNode{lb, node});
  return applyOverlay(std::move(next), 201, "node " + node.name + " added to " + lb);
}

admin::ActionResult ControlLoop::deleteNode(const std::string& lb_name,
                                            const std::string& node_id) {
  std::vector<std::string> holders;
  for (const config::LoadBalancer& lb : config_->loadbalancers)
    if ((lb_name.empty() || lb.name == lb_name) && findBackend(lb, node_id) != nullptr)
      holders.push_back(lb.name);
  if (holders.empty())
    return admin::ActionResult::fail(404, "not_found", "node \"" + node_id + "\" does not exist");
  if (holders.size() > 1)
    return admin::ActionResult::fail(409, "conflict",
                                     "node \"" + node_id +
                                         "\" exists in several load balancers; add "
                                         "?loadbalancer=NAME");
  const std::string& lb = holders.front();
  lb::AdminOverlay next = overlay_;
  const auto before = next.nodes_added.size();
  std::erase_if(next.nodes_added, [&](const lb::AddedNode& n) {
    return sameNode(n.lb, n.backend.name, lb, node_id);
  });
  if (next.nodes_added.size() == before) next.nodes_removed.push_back(lb::NodeRef{lb, node_id});
  std::erase_if(next.patches,
                [&](const lb::BackendPatch& p) { return sameNode(p.lb, p.backend, lb, node_id); });
  // Removing it from the config is the drain: no new requests, in-flight ones finish on the
  // snapshot they started with, then its pooled connections close.
  return applyOverlay(std::move(next), 200,
                      "node " + node_id + " removed from " + lb + " (draining)");
}

admin::ActionResult ControlLoop::patchBackend(const std::string& lb_name, const std::string& name,
                                              std::optional<int> weight,
                                              std::optional<config::AdminState> state) {
  const config::LoadBalancer* lb = findLb(*config_, lb_name);
  if (lb == nullptr)
    return admin::ActionResult::fail(404, "not_found",
                                     "load balancer \"" + lb_name + "\" does not exist");
  if (findBackend(*lb, name) == nullptr)
    return admin::ActionResult::fail(
        404, "not_found", "load balancer \"" + lb_name + "\" has no backend \"" + name + "\"");
  if (weight && (*weight < 0 || *weight > 1000))
    return admin::ActionResult::fail(400, "invalid_request", "weight must be 0..1000");
  lb::AdminOverlay next = overlay_;
  auto it = std::find_if(next.patches.begin(), next.patches.end(), [&](const lb::BackendPatch& p) {
    return sameNode(p.lb, p.backend, lb_name, name);
  });
  if (it == next.patches.end())
    it = next.patches.insert(next.patches.end(), lb::BackendPatch{lb_name, name, {}, {}});
  if (weight) it->weight = weight;
  if (state) it->state = state;
  return applyOverlay(std::move(next), 200, "backend " + lb_name + "/" + name + " updated");
}

admin::ActionResult ControlLoop::applyOverlay(lb::AdminOverlay overlay, int success_status,
                                              std::string message) {
  if (auto refused = refuseWhileShuttingDown()) return *refused;
  auto effective =
      std::make_shared<const config::Config>(lb::applyOverlay(*file_config_, overlay, &overlay));
  const config::ConfigChanges changes = config::diff(*config_, *effective);
  std::string error;
  if (!applyConfig(file_config_, effective, &error))
    return admin::ActionResult::fail(409, "conflict", error);
  overlay_ = std::move(overlay);
  const bool saved = saveState();
  FLB_LOG(Info, "admin API: %s", message.c_str());
  if (!saved) message += kNotPersisted;
  admin::ActionResult result;
  result.status = success_status;
  result.message = std::move(message);
  result.changes = {changes.added, changes.removed, changes.modified};
  return result;
}

admin::ActionResult ControlLoop::reload() {
  return reloadFrom("api");
}

admin::ActionResult ControlLoop::reloadFrom(const char* trigger) {
  if (auto refused = refuseWhileShuttingDown()) return *refused;
  // The bytes read here are the bytes checked, hashed and parsed: an edit landing during
  // the reload is never taken for loaded.
  std::string text, read_error;
  const bool readable =
      !config_path_.empty() && config::readConfigFile(config_path_, &text, &read_error);
  // The watch will not reload what this reload reads, when it notices the edit after
  // SIGHUP or the API did.
  if (config_watch_ && readable) config_watch_->noteLoaded(config_watch_->inputsHashWith(text));
  std::vector<std::string> warnings;
  admin::ActionResult result = readable && ConfigWatch::isBlank(text)
                                   ? refuseEmptyFile()
                                   : attemptReload(readable ? &text : nullptr, &warnings);
  if (result.ok() && config_watch_) {
    // The new config may name other certificate files: watch those, and take the hash
    // over them so the change just loaded is not loaded again.
    config_watch_->watchAlso(config::filesNamedBy(*file_config_));
    config_watch_->noteLoaded(config_watch_->inputsHashWith(text));
    if (ConfigWatch::hashFile(config_path_) != XXH3_64bits(text.data(), text.size()))
      config_watch_->recheck();  // edited while this reload ran
  }
  admin::ReloadOutcome outcome;
  outcome.trigger = trigger;
  outcome.ok = result.ok();
  outcome.error = result.ok() ? "" : result.message;
  outcome.warnings = std::move(warnings);
  outcome.at_unix_ms = util::unixNowMs();
  outcome.changes = result.changes;
  counters_.last_reload = std::move(outcome);
  return result;
}

// An empty file is a write in progress far more often than a wish to stop every listener
// (which a file with only [standalone.server] still expresses).
admin::ActionResult ControlLoop::refuseEmptyFile() {
  const std::string message =
      config_path_ +
      ": the file is empty (a write in progress?); keeping the running configuration";
  FLB_LOG(Error, "config reload failed: %s", message.c_str());
  counters_.reloads_failed++;
  return admin::ActionResult::fail(400, "invalid_config", message);
}

admin::ActionResult ControlLoop::attemptReload(const std::string* text,
                                               std::vector<std::string>* warnings) {
  if (config_path_.empty()) {
    FLB_LOG(Warn, "config reload failed: fiberlb was started without a config file");
    counters_.reloads_failed++;
    return admin::ActionResult::fail(400, "invalid_config",
                                     "fiberlb was started without a config file");
  }
  // Unreadable (`text` null): loadFile() says why, in the usual words.
  config::LoadResult loaded = text != nullptr
                                  ? config::loadFileText(config_path_, *text, overrides_)
                                  : config::loadFile(config_path_, overrides_);
  for (const config::Diagnostic& w : loaded.warnings) {
    FLB_LOG(Warn, "%s", w.str().c_str());
    warnings->push_back(w.str());
  }
  if (!loaded.ok()) {
    for (const config::Diagnostic& e : loaded.errors)
      FLB_LOG(Error, "config reload failed: %s", e.str().c_str());
    FLB_LOG(Error, "config reload failed: keeping the running configuration");
    counters_.reloads_failed++;
    return admin::ActionResult::fail(400, "invalid_config", joinDiagnostics(loaded.errors));
  }
  auto file = std::make_shared<const config::Config>(std::move(loaded.config));
  if (file->server.workers != file_config_->server.workers && file->server.workers != 0)
    FLB_LOG(Warn, "config reload: a change of workers takes effect at the next restart");
  if (file->server.admin_api_addr != file_config_->server.admin_api_addr)
    FLB_LOG(Warn, "config reload: a change of admin_api_addr takes effect at the next restart");
  lb::AdminOverlay overlay = overlay_;
  auto effective =
      std::make_shared<const config::Config>(lb::applyOverlay(*file, overlay, &overlay));
  const config::ConfigChanges changes = config::diff(*config_, *effective);
  const std::string old_active_setting = file_config_->geo.active_region;
  std::string error;
  if (!applyConfig(file, effective, &error)) {
    FLB_LOG(Error, "config reload failed: %s; keeping the running configuration", error.c_str());
    counters_.reloads_failed++;
    return admin::ActionResult::fail(400, "invalid_config", error);
  }
  overlay_ = std::move(overlay);
  counters_.reloads_ok++;
  FLB_LOG(Info, "config reloaded (generation %llu): %zu added, %zu removed, %zu modified",
          static_cast<unsigned long long>(current_->snapshot->generation), changes.added.size(),
          changes.removed.size(), changes.modified.size());
  // An edited geo.active_region is an operator's switch made in the file.
  const std::string& wanted = file->geo.active_region;
  std::string note;
  if (!wanted.empty() && wanted != old_active_setting && wanted != failover_.active()) {
    admin::ActionResult switched =
        switchRegion("", wanted, "geo.active_region changed in the config file", "config");
    if (!switched.ok()) {
      note = "; geo.active_region not applied: " + switched.message;
      FLB_LOG(Warn, "config reload: geo.active_region \"%s\" not applied: %s", wanted.c_str(),
              switched.message.c_str());
    }
  }
  const bool saved = saveState();
  admin::ActionResult result;
  result.message = "reloaded" + note + (saved ? "" : kNotPersisted);
  result.changes = {changes.added, changes.removed, changes.modified};
  return result;
}

}  // namespace fiberlb::control
