#include "lb/policies/maglev.h"

#include <xxhash.h>

#include <algorithm>
#include <string>

#include "lb/hash_key.h"

namespace fiberlb::lb {

namespace {

// Maglev wants M ≥ 100·N for a spread within 1% (every backend holds its share of slots to
// within one slot). Both are prime, so every skip in [1, M-1] visits every slot.
constexpr uint32_t kSmallTable = 65537;
constexpr uint32_t kLargeTable = 655373;
constexpr size_t kSlotsPerEndpoint = 100;

// Retries probe this many further slots before walking the endpoints in order: enough to
// find an untried backend unless nearly all the weight was tried (then 32 probes miss with
// probability (tried share)^32: 1% at 87% tried).
constexpr uint32_t kMaxRetryProbes = 32;
constexpr uint64_t kProbeStep = 0x9e3779b97f4a7c15ULL;  // 2^64 / golden ratio, odd

struct Candidate {
  BackendState* backend;
  uint64_t weight;
  XXH128_hash_t id;  // XXH3-128 of "lb/name": low64 gives the offset, high64 the skip
};

// Orders backends by their identity hash, so the build does not depend on the endpoint
// order. Names are unique within an LB, so equal hashes do not happen in practice; the
// object's address only keeps the order strict should they.
bool identityLess(const Candidate& a, const Candidate& b) {
  if (a.id.low64 != b.id.low64) return a.id.low64 < b.id.low64;
  if (a.id.high64 != b.id.high64) return a.id.high64 < b.id.high64;
  return a.backend < b.backend;
}

std::vector<Candidate> candidatesOf(std::span<const Endpoint> endpoints) {
  std::vector<Candidate> out;
  out.reserve(endpoints.size());
  std::string identity;
  for (const Endpoint& e : endpoints) {
    // The snapshot builder only emits weight > 0; guard anyway (weights drive the schedule).
    if (e.backend == nullptr || e.weight <= 0) continue;
    identity.assign(e.backend->lb());
    identity.push_back('/');
    identity.append(e.backend->name());
    out.push_back(Candidate{e.backend, static_cast<uint64_t>(e.weight),
                            XXH3_128bits(identity.data(), identity.size())});
  }
  std::sort(out.begin(), out.end(), identityLess);
  return out;
}

// Backend i takes its j-th turn at time (j + 1/2) / w_i. In ticks of 1 / w_max that is
// tick (2j + 1)·w_max / (2·w_i), rounded down: a backend of the largest weight takes one turn
// every tick, one of a third of that weight one every third tick. Calls fn(tick) for each of
// its turns up to tick `last`, in order, without a division per turn.
template <typename Fn>
void forEachTurn(uint64_t weight, uint64_t w_max, uint64_t last, Fn&& fn) {
  const uint64_t den = 2 * weight;
  const uint64_t step_q = (2 * w_max) / den;
  const uint64_t step_r = (2 * w_max) % den;
  uint64_t tick = w_max / den;
  uint64_t rem = w_max % den;
  while (tick <= last) {
    fn(tick);
    tick += step_q;
    rem += step_r;
    if (rem >= den) {
      ++tick;
      rem -= den;
    }
  }
}

// The order in which backends claim slots: each backend's turns merged by tick (counting
// sort), ties in identity order. Long enough to fill the table: backend i has at least
// (last + 1)·w_i / w_max − 1/2 turns by tick `last`, which sums to ≥ m for the `last` below.
std::vector<uint32_t> turnOrder(const std::vector<Candidate>& candidates, uint32_t m) {
  uint64_t w_max = 0;
  uint64_t w_total = 0;
  for (const Candidate& c : candidates) {
    w_max = std::max(w_max, c.weight);
    w_total += c.weight;
  }
  const uint64_t n = candidates.size();
  const uint64_t last = ((2 * uint64_t{m} + n) * w_max + 2 * w_total - 1) / (2 * w_total);

  std::vector<uint32_t> start(last + 2, 0);  // turns per tick, then where each tick begins
  for (const Candidate& c : candidates)
    forEachTurn(c.weight, w_max, last, [&](uint64_t tick) { ++start[tick + 1]; });
  for (size_t t = 1; t < start.size(); ++t)
    start[t] += start[t - 1];

  std::vector<uint32_t> order(start.back());
  for (uint32_t i = 0; i < candidates.size(); ++i)
    forEachTurn(candidates[i].weight, w_max, last,
                [&](uint64_t tick) { order[start[tick]++] = i; });
  return order;
}

// Maglev's population: in turn order, each backend claims the next free slot of its own
// permutation. Expected probes M·ln M in all, against a bitmap of M bits (80 KiB at most,
// so it stays in L2) rather than the 4-byte table.
std::vector<uint32_t> populate(const std::vector<Candidate>& candidates, uint32_t m) {
  const size_t n = candidates.size();
  std::vector<uint32_t> next(n);  // the next slot of each backend's permutation
  std::vector<uint32_t> skip(n);
  for (size_t i = 0; i < n; ++i) {
    next[i] = static_cast<uint32_t>(candidates[i].id.low64 % m);
    skip[i] = static_cast<uint32_t>(candidates[i].id.high64 % (m - 1)) + 1;
  }
  std::vector<uint32_t> table(m);
  std::vector<uint64_t> used((m + 63) / 64, 0);
  uint32_t filled = 0;
  for (const uint32_t i : turnOrder(candidates, m)) {
    uint32_t slot = next[i];
    const uint32_t step = skip[i];
    while ((used[slot >> 6] >> (slot & 63)) & 1) {
      slot += step;
      if (slot >= m) slot -= m;
    }
    used[slot >> 6] |= uint64_t{1} << (slot & 63);
    table[slot] = i;
    slot += step;
    if (slot >= m) slot -= m;
    next[i] = slot;
    if (++filled == m) break;
  }
  return table;
}

}  // namespace

uint32_t MaglevPicker::tableSizeFor(size_t endpoints) {
  return endpoints * kSlotsPerEndpoint <= kSmallTable ? kSmallTable : kLargeTable;
}

MaglevPicker::MaglevPicker(std::span<const Endpoint> endpoints) {
  const std::vector<Candidate> candidates = candidatesOf(endpoints);
  if (candidates.empty()) return;
  backends_.reserve(candidates.size());
  for (const Candidate& c : candidates)
    backends_.push_back(c.backend);
  table_ = populate(candidates, tableSizeFor(candidates.size()));
}

uint32_t MaglevPicker::slotOf(uint64_t hash) const {
  // A modulo by a constant compiles to multiplications, not a division. Unlike a
  // multiply-shift range reduction it also spreads weak hashes (small integers) evenly.
  return table_.size() == kSmallTable ? static_cast<uint32_t>(hash % kSmallTable)
                                      : static_cast<uint32_t>(hash % kLargeTable);
}

BackendState* MaglevPicker::pick(const PickContext& ctx) {
  if (table_.empty()) return nullptr;
  const uint32_t slot = slotOf(ctx.hash);
  BackendState* b = backends_[table_[slot]];
  if (ctx.tried_count == 0 || !ctx.isTried(b)) return b;
  return pickSkippingTried(slot, ctx);
}

BackendState* MaglevPicker::pickSkippingTried(uint32_t slot, const PickContext& ctx) const {
  // Further slots from hashes derived from the key's: each probe is an independent,
  // weight-proportional choice, so a failed backend's keys spread over all the others.
  // (The adjacent slots would not do: Maglev's permutations are arithmetic progressions, and
  // the owner of slot s + 1 is strongly correlated with the owner of slot s.)
  uint64_t h = ctx.hash;
  for (uint32_t probe = 0; probe < kMaxRetryProbes; ++probe) {
    h = mixHash(h + kProbeStep);
    BackendState* b = backends_[table_[slotOf(h)]];
    if (!ctx.isTried(b)) return b;
  }
  // Nearly all were tried: walk the endpoints once, from the key's own.
  const size_t n = backends_.size();
  const size_t first = table_[slot];
  for (size_t k = 1; k <= n; ++k) {
    BackendState* b = backends_[(first + k) % n];
    if (!ctx.isTried(b)) return b;
  }
  return nullptr;
}

std::unique_ptr<Picker> MaglevPolicy::makePicker(std::span<const Endpoint> endpoints) const {
  return std::make_unique<MaglevPicker>(endpoints);
}

}  // namespace fiberlb::lb
