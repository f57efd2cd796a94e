#pragma once
// Which region is active, when to switch away from it and back, and the history of every
// switch (SPEC §4 "Failover"). Pure logic: time comes in as arguments, no I/O, so every rule
// is unit-testable with a fake clock.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "lb/geo_math.h"
#include "lb/region_status.h"

namespace fiberlb::lb {

// One switch of the active region (SPEC §4), as recorded in the history and the state file.
struct FailoverEvent {
  std::string event_id;  // UUID v4
  std::string from_region;
  std::string to_region;
  int64_t timestamp_unix_ms = 0;  // rendered as RFC 3339 UTC
  std::string reason;
  std::string triggered_by;  // "auto", "auto-failback", "api", "config", or an operator's name
  bool success = true;
};

// RFC 3339 UTC with milliseconds: "2026-11-24T16:31:29.123Z".
std::string rfc3339Utc(int64_t unix_ms);
// Parses what rfc3339Utc writes (and any RFC 3339 time with "Z" or a numeric offset, with
// or without fractional seconds). False when `text` is not one.
bool parseRfc3339(std::string_view text, int64_t* unix_ms);
// A random (version 4) UUID in canonical lower-case form.
std::string newUuid();

// Control loop only.
class FailoverManager {
 public:
  struct Options {
    bool auto_failover = true;
    config::Failback failback = config::Failback::Manual;
    double failback_hold_sec = 60;
    size_t history_limit = 100;  // oldest events are dropped beyond this
    // Only quoted in the reason of an event (the statuses arrive already computed), so the
    // operator reading the history sees which threshold the region fell below.
    double failover_threshold = 0.5;
  };

  // Takes effect at once: a lowered history_limit trims the history now.
  void configure(const Options& options);
  const Options& options() const { return options_; }

  // The region requests go to; "" until one has been chosen.
  const std::string& active() const { return active_; }
  // Newest first.
  const std::deque<FailoverEvent>& history() const { return history_; }

  // Restores what a state file held (history newest first; trimmed to the limit).
  void restore(std::string active, std::vector<FailoverEvent> history);
  // Sets the active region without recording an event (start-up choice from the config).
  void setInitial(std::string active) { active_ = std::move(active); }

  // Looks at the current region statuses and switches if the rules say so:
  //  - no active region yet: the best serving region (priority, then id); if none is
  //    serving, the best region that is not offline/maintenance (it may still come up); no
  //    event is recorded for this first choice.
  //  - auto_failover and the active region is offline or in maintenance (or gone from
  //    `regions`): switch to the best serving region other than it — lowest priority number,
  //    ties by lowest latency from the failed region (`latency`), then id. Nothing serving:
  //    stay (requests get 503) and return nothing.
  //  - failback = auto, the last switch was automatic (not an operator's), and the preferred
  //    region (best priority of all) has been Online (not merely degraded) continuously for
  //    failback_hold_sec: switch back to it.
  // Returns the event when it switched (already appended to the history).
  // `now_ms` is a monotonic clock (for holds), `now_unix_ms` the wall clock (for events).
  std::optional<FailoverEvent> evaluate(const std::vector<RegionState>& regions,
                                        const LatencyMatrix& latency, int64_t now_ms,
                                        int64_t now_unix_ms);

  // An operator's switch (POST /api/geo/failover, PUT /api/geo/active-region). Fails (returns
  // nullopt and sets `error`, an operator-readable sentence, and `conflict` = true for 409
  // cases) when `to` is unknown, already active, or `from` is given and is not the active
  // region. Switching to a region that is not serving is allowed (the operator knows best)
  // but the event says so in its reason. Auto failback is disarmed until the next automatic
  // failover.
  std::optional<FailoverEvent> manualSwitch(const std::vector<RegionState>& regions,
                                            std::string_view from, std::string_view to,
                                            std::string_view reason, std::string_view triggered_by,
                                            int64_t now_unix_ms, std::string* error,
                                            bool* conflict);

  // When the preferred region has been continuously Online since (monotonic ms), or -1.
  int64_t preferredOnlineSinceMs() const { return preferred_online_since_ms_; }

 private:
  // The steps of evaluate(), in order.
  const RegionState* trackPreferred(const std::vector<RegionState>& regions, int64_t now_ms);
  void chooseInitial(const std::vector<RegionState>& regions);
  std::optional<FailoverEvent> failover(const std::vector<RegionState>& regions,
                                        const LatencyMatrix& latency, int64_t now_unix_ms);
  std::optional<FailoverEvent> failback(const RegionState& preferred, int64_t now_ms,
                                        int64_t now_unix_ms);
  FailoverEvent record(std::string from, std::string to, std::string reason,
                       std::string triggered_by, int64_t now_unix_ms);

  Options options_;
  std::string active_;
  std::deque<FailoverEvent> history_;
  bool last_switch_automatic_ = false;
  std::string preferred_;  // best-priority region at the last evaluate()
  int64_t preferred_online_since_ms_ = -1;
};

}  // namespace fiberlb::lb
