#include "lb/failover_manager.h"

#include <chrono>
#include <cstdio>
#include <iterator>
#include <limits>
#include <random>
#include <tuple>
#include <utility>

namespace fiberlb::lb {

namespace {

using std::chrono::days;
using std::chrono::sys_days;

constexpr int64_t kMsPerDay = int64_t{86'400'000};
constexpr char kAuto[] = "auto";
constexpr char kAutoFailback[] = "auto-failback";

// ---------------------------------------------------------------------------------------
// RFC 3339

// Floor division: times before 1970 must land on the previous day, not round toward zero.
int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// A cursor over the text being parsed; every reader fails (returns false) without consuming
// past the end.
struct Cursor {
  std::string_view text;
  size_t pos = 0;

  bool digits(size_t n, int* out) {
    if (text.size() - pos < n) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      const char c = text[pos + i];
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
    }
    pos += n;
    *out = v;
    return true;
  }
  bool literal(char expected) {
    if (pos >= text.size() || text[pos] != expected) return false;
    ++pos;
    return true;
  }
  bool oneOf(char a, char b) { return literal(a) || literal(b); }
  bool atEnd() const { return pos == text.size(); }
  char peek() const { return pos < text.size() ? text[pos] : '\0'; }
};

// ".123456" → 123 ms; extra digits beyond milliseconds are truncated, not rounded, so a
// parsed time never moves into the next second.
bool fractionMs(Cursor& c, int* ms) {
  *ms = 0;
  if (!c.literal('.')) return true;
  size_t n = 0;
  int scale = 100;
  for (int d = 0; c.digits(1, &d); ++n) {
    *ms += d * scale;
    scale /= 10;
  }
  return n > 0;
}

// "Z" → 0; "+09:00" → +540; "-05:30" → -330 (minutes east of UTC).
bool offsetMinutes(Cursor& c, int* minutes) {
  if (c.oneOf('Z', 'z')) {
    *minutes = 0;
    return true;
  }
  const char sign = c.peek();
  if (!c.oneOf('+', '-')) return false;
  int hh = 0;
  int mm = 0;
  if (!c.digits(2, &hh) || !c.literal(':') || !c.digits(2, &mm)) return false;
  if (hh > 23 || mm > 59) return false;
  *minutes = (sign == '-' ? -1 : 1) * (hh * 60 + mm);
  return true;
}

// ---------------------------------------------------------------------------------------
// Region choice

std::string formatNumber(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// Best = lowest priority number, then id: the order the SPEC ranks regions by.
bool betterRanked(const RegionState& a, const RegionState& b) {
  return std::tie(a.priority, a.id) < std::tie(b.priority, b.id);
}

// The best-ranked region accepted by `want`, or nullptr.
template <typename Pred>
const RegionState* bestWhere(const std::vector<RegionState>& regions, Pred want) {
  const RegionState* best = nullptr;
  for (const RegionState& r : regions)
    if (want(r) && (best == nullptr || betterRanked(r, *best))) best = &r;
  return best;
}

// Latency from `from` to `to`; unknown (either not in the matrix) sorts after every known
// one so a region without coordinates never wins a tie on a made-up number.
double latencyOrMax(const LatencyMatrix& latency, std::string_view from, std::string_view to) {
  const double ms = latency.between(from, to);
  return ms < 0 ? std::numeric_limits<double>::infinity() : ms;
}

// The failover target: serving, not the failed region; priority, then latency from the
// failed region, then id.
const RegionState* failoverTarget(const std::vector<RegionState>& regions,
                                  const LatencyMatrix& latency, std::string_view failed) {
  const RegionState* best = nullptr;
  double best_ms = 0;
  for (const RegionState& r : regions) {
    if (r.id == failed || !isServing(r.status)) continue;
    const double ms = latencyOrMax(latency, failed, r.id);
    if (best == nullptr ||
        std::tie(r.priority, ms, r.id) < std::tie(best->priority, best_ms, best->id)) {
      best = &r;
      best_ms = ms;
    }
  }
  return best;
}

// "0 of 3 backends eligible"
std::string eligibility(const RegionCounts& c) {
  return std::to_string(c.eligible) + " of " + std::to_string(c.nodes) + " backend" +
         (c.nodes == 1 ? "" : "s") + " eligible";
}

// Why `id` (the active region) must be left, or "" when it need not be.
std::string reasonToLeave(const RegionState* active, std::string_view id, double threshold) {
  const std::string name = "region " + std::string(id);
  if (active == nullptr) return name + " is no longer configured";
  if (active->status == RegionStatus::Maintenance)
    return name + " in maintenance (set by an operator)";
  // A region left without any backend (all removed) can serve nothing: SPEC §4's "always
  // offline when no backend is eligible".
  if (active->counts.nodes == 0) return name + " has no backends";
  if (active->status == RegionStatus::Offline)
    return name + " offline: " + eligibility(active->counts) + " (failover_threshold " +
           formatNumber("%g", threshold) + ")";
  return "";
}

// "; failed over to eu-west-1 (priority 2, ~12.3 ms from us-east-1)"
std::string targetClause(const RegionState& to, const LatencyMatrix& latency,
                         std::string_view from) {
  std::string s = "; failed over to " + to.id + " (priority " + std::to_string(to.priority);
  const double ms = latency.between(from, to.id);
  if (ms >= 0) s += ", ~" + formatNumber("%.1f", ms) + " ms from " + std::string(from);
  return s + ")";
}

void setError(std::string* error, bool* conflict, std::string message, bool is_conflict) {
  if (error != nullptr) *error = std::move(message);
  if (conflict != nullptr) *conflict = is_conflict;
}

}  // namespace

std::string rfc3339Utc(int64_t unix_ms) {
  const int64_t day = floorDiv(unix_ms, kMsPerDay);
  const int64_t ms_of_day = unix_ms - day * kMsPerDay;
  const std::chrono::year_month_day ymd{sys_days{days{day}}};
  const int64_t secs = ms_of_day / 1000;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(secs / 3600),
                static_cast<int>(secs / 60 % 60), static_cast<int>(secs % 60),
                static_cast<int>(ms_of_day % 1000));
  return buf;
}

bool parseRfc3339(std::string_view text, int64_t* unix_ms) {
  Cursor c{text};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0, offset = 0;
  if (!c.digits(4, &y) || !c.literal('-') || !c.digits(2, &mo) || !c.literal('-') ||
      !c.digits(2, &d) || !c.oneOf('T', 't') || !c.digits(2, &h) || !c.literal(':') ||
      !c.digits(2, &mi) || !c.literal(':') || !c.digits(2, &s) || !fractionMs(c, &ms) ||
      !offsetMinutes(c, &offset) || !c.atEnd())
    return false;
  const std::chrono::year_month_day ymd{std::chrono::year{y},
                                        std::chrono::month{static_cast<unsigned>(mo)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  // Second 60 is RFC 3339's leap second; it folds into the next minute's first second.
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return false;
  const int64_t day = sys_days{ymd}.time_since_epoch().count();
  const int64_t local_secs = day * 86'400 + h * 3600 + mi * 60 + s;
  if (unix_ms != nullptr) *unix_ms = (local_secs - int64_t{offset} * 60) * 1000 + ms;
  return true;
}

std::string newUuid() {
  // One generator per thread: no lock, and random_device (a syscall) is read only once.
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64{seq};
  }()};
  uint64_t hi = rng();
  uint64_t lo = rng();
  hi = (hi & ~uint64_t{0xF000}) | uint64_t{0x4000};            // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // variant 10xx
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFF'FFFF'FFFFULL));
  return buf;
}

void FailoverManager::configure(const Options& options) {
  options_ = options;
  while (history_.size() > options_.history_limit)
    history_.pop_back();
}

void FailoverManager::restore(std::string active, std::vector<FailoverEvent> history) {
  active_ = std::move(active);
  history_.assign(std::make_move_iterator(history.begin()), std::make_move_iterator(history.end()));
  while (history_.size() > options_.history_limit)
    history_.pop_back();
  // Auto failback survives a restart: it stays armed if the newest switch was an automatic
  // failover.
  last_switch_automatic_ = !history_.empty() && history_.front().triggered_by == kAuto;
  preferred_.clear();
  preferred_online_since_ms_ = -1;
}

std::optional<FailoverEvent> FailoverManager::evaluate(const std::vector<RegionState>& regions,
                                                       const LatencyMatrix& latency, int64_t now_ms,
                                                       int64_t now_unix_ms) {
  const RegionState* preferred = trackPreferred(regions, now_ms);
  if (active_.empty()) {
    chooseInitial(regions);
    return std::nullopt;
  }
  if (std::optional<FailoverEvent> e = failover(regions, latency, now_unix_ms)) return e;
  if (preferred != nullptr) return failback(*preferred, now_ms, now_unix_ms);
  return std::nullopt;
}

const RegionState* FailoverManager::trackPreferred(const std::vector<RegionState>& regions,
                                                   int64_t now_ms) {
  // Tracked on every evaluation, whatever else happens, so that the hold measures continuous
  // Online time and restarts whenever the preferred region flaps (or another one becomes
  // preferred).
  // Regions without backends (a default region nobody uses) are never preferred: they can
  // never be Online, so preferring one would disarm failback for good.
  const RegionState* preferred =
      bestWhere(regions, [](const RegionState& r) { return r.counts.nodes > 0; });
  const std::string id = preferred != nullptr ? preferred->id : "";
  if (id != preferred_) preferred_online_since_ms_ = -1;
  preferred_ = id;
  if (preferred == nullptr || preferred->status != RegionStatus::Online)
    preferred_online_since_ms_ = -1;
  else if (preferred_online_since_ms_ < 0)
    preferred_online_since_ms_ = now_ms;
  return preferred;
}

void FailoverManager::chooseInitial(const std::vector<RegionState>& regions) {
  // No event: nothing was switched away from. Unknown regions may still come up, so they
  // beat waiting with no region at all; offline and maintenance ones do not.
  const RegionState* first =
      bestWhere(regions, [](const RegionState& r) { return isServing(r.status); });
  if (first == nullptr)
    first = bestWhere(regions, [](const RegionState& r) {
      return r.status != RegionStatus::Offline && r.status != RegionStatus::Maintenance;
    });
  if (first != nullptr) active_ = first->id;
}

std::optional<FailoverEvent> FailoverManager::failover(const std::vector<RegionState>& regions,
                                                       const LatencyMatrix& latency,
                                                       int64_t now_unix_ms) {
  if (!options_.auto_failover) return std::nullopt;
  const std::string why =
      reasonToLeave(findRegion(regions, active_), active_, options_.failover_threshold);
  if (why.empty()) return std::nullopt;
  const RegionState* to = failoverTarget(regions, latency, active_);
  if (to == nullptr) return std::nullopt;  // nowhere to go: stay, requests get 503
  std::string reason = why + targetClause(*to, latency, active_);
  FailoverEvent event = record(active_, to->id, std::move(reason), kAuto, now_unix_ms);
  last_switch_automatic_ = true;
  return event;
}

std::optional<FailoverEvent> FailoverManager::failback(const RegionState& preferred, int64_t now_ms,
                                                       int64_t now_unix_ms) {
  if (options_.failback != config::Failback::Auto || !last_switch_automatic_ ||
      preferred.id == active_ || preferred_online_since_ms_ < 0)
    return std::nullopt;
  const double held_ms = static_cast<double>(now_ms - preferred_online_since_ms_);
  if (held_ms < options_.failback_hold_sec * 1000.0) return std::nullopt;
  std::string reason = "preferred region " + preferred.id + " (priority " +
                       std::to_string(preferred.priority) + ") online continuously for " +
                       formatNumber("%.0f", held_ms / 1000.0) + " s (failback_hold_sec " +
                       formatNumber("%g", options_.failback_hold_sec) + "); failing back from " +
                       active_;
  FailoverEvent event =
      record(active_, preferred.id, std::move(reason), kAutoFailback, now_unix_ms);
  // Back home: nothing left to fail back from until the next automatic failover.
  last_switch_automatic_ = false;
  return event;
}

std::optional<FailoverEvent> FailoverManager::manualSwitch(
    const std::vector<RegionState>& regions, std::string_view from, std::string_view to,
    std::string_view reason, std::string_view triggered_by, int64_t now_unix_ms, std::string* error,
    bool* conflict) {
  const RegionState* target = findRegion(regions, to);
  if (target == nullptr) {
    setError(error, conflict, "unknown region '" + std::string(to) + "'", false);
    return std::nullopt;
  }
  if (target->id == active_) {
    setError(error, conflict, "region " + active_ + " is already the active region", true);
    return std::nullopt;
  }
  if (!from.empty() && findRegion(regions, from) == nullptr) {
    setError(error, conflict, "unknown region '" + std::string(from) + "'", false);
    return std::nullopt;
  }
  // With auto failover on, the next evaluation would leave a region that cannot serve at
  // once and call it an automatic failover: refuse instead of pretending it worked.
  if (options_.auto_failover && !isServing(target->status)) {
    setError(error, conflict,
             "region " + target->id + " is " + toString(target->status) + " (" +
                 eligibility(target->counts) +
                 "); with geo.auto_failover on it would be failed away from at once — bring a "
                 "backend of it online first, or set geo.auto_failover = false",
             true);
    return std::nullopt;
  }
  if (!from.empty() && from != active_) {
    setError(error, conflict,
             "from_region " + std::string(from) +
                 " is not the active region (the active region is " +
                 (active_.empty() ? std::string("not chosen yet") : active_) + ")",
             true);
    return std::nullopt;
  }
  setError(error, conflict, "", false);

  const std::string by = triggered_by.empty() ? std::string("api") : std::string(triggered_by);
  std::string why = reason.empty() ? "manual switch by " + by : std::string(reason);
  // Allowed (the operator knows best), but the history should show it was deliberate.
  if (!isServing(target->status))
    why += "; warning: region " + target->id + " was " + toString(target->status) +
           " at the time of the switch (" + eligibility(target->counts) + ")";
  FailoverEvent event = record(active_, target->id, std::move(why), by, now_unix_ms);
  last_switch_automatic_ = false;  // an operator's choice is never undone automatically
  return event;
}

FailoverEvent FailoverManager::record(std::string from, std::string to, std::string reason,
                                      std::string triggered_by, int64_t now_unix_ms) {
  FailoverEvent event;
  event.event_id = newUuid();
  event.from_region = std::move(from);
  event.to_region = std::move(to);
  event.timestamp_unix_ms = now_unix_ms;
  event.reason = std::move(reason);
  event.triggered_by = std::move(triggered_by);
  event.success = true;
  active_ = event.to_region;
  history_.push_front(event);
  while (history_.size() > options_.history_limit)
    history_.pop_back();
  return event;
}

}  // namespace fiberlb::lb
