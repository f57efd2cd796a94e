#include "lb/policies/edf_round_robin.h"

#include <algorithm>
#include <array>
#include <utility>

namespace fiberlb::lb {

namespace {

// twice_due * weight must stay below 2^64: weights are capped at 2^20 (validated
// configs stay <= 1000), and twice_due
// reaches 2^44 only after eight trillion picks of one endpoint.
constexpr uint32_t kMaxWeight = uint32_t{1} << 20;

// A retry's search holds at most tried_count + 1 heap positions. Retries try a handful of
// backends; longer tried lists take an O(N) scan instead.
constexpr size_t kMaxFrontier = 32;

}  // namespace

EdfRoundRobinPicker::EdfRoundRobinPicker(std::span<const Endpoint> endpoints) {
  for (const Endpoint& e : endpoints) {
    // The snapshot builder only emits weight > 0; guard anyway.
    if (e.backend == nullptr || e.weight <= 0) continue;
    const auto weight = std::min(static_cast<uint32_t>(e.weight), kMaxWeight);
    heap_.push_back(Entry{1, weight, static_cast<uint32_t>(backends_.size())});
    backends_.push_back(e.backend);
  }
  // Every first deadline is 1 / (2w): heaviest first, then list order — a valid heap once
  // sorted that way.
  std::sort(heap_.begin(), heap_.end(), earlier);
}

BackendState* EdfRoundRobinPicker::pick(const PickContext& ctx) {
  if (heap_.empty()) return nullptr;
  return ctx.tried_count == 0 ? takeAt(0) : takeEarliestUntried(ctx);
}

BackendState* EdfRoundRobinPicker::takeAt(size_t at) {
  Entry& e = heap_[at];
  BackendState* chosen = backends_[e.index];
  e.twice_due += 2;  // its next deadline, one period 1/w later
  siftDown(at);      // only later: the parent stays earlier, the heap stays valid
  return chosen;
}

BackendState* EdfRoundRobinPicker::takeEarliestUntried(const PickContext& ctx) {
  // Best-first search from the root: the earliest untried entry is the root or a child of a
  // tried one, so only tried entries expand. The frontier grows by at most one per tried
  // entry; tried ones keep their deadlines (they sit this pick out and stay due).
  if (ctx.tried_count + 2 > kMaxFrontier) return takeEarliestUntriedByScan(ctx);
  std::array<size_t, kMaxFrontier> frontier;
  size_t count = 0;
  frontier[count++] = 0;
  while (count > 0) {
    size_t best = 0;
    for (size_t f = 1; f < count; ++f)
      if (earlier(heap_[frontier[f]], heap_[frontier[best]])) best = f;
    const size_t at = frontier[best];
    frontier[best] = frontier[--count];
    if (!ctx.isTried(backends_[heap_[at].index])) return takeAt(at);
    for (size_t child = 2 * at + 1; child <= 2 * at + 2 && child < heap_.size(); ++child)
      frontier[count++] = child;
  }
  return nullptr;  // every endpoint tried
}

BackendState* EdfRoundRobinPicker::takeEarliestUntriedByScan(const PickContext& ctx) {
  size_t best = heap_.size();
  for (size_t at = 0; at < heap_.size(); ++at) {
    if (ctx.isTried(backends_[heap_[at].index])) continue;
    if (best == heap_.size() || earlier(heap_[at], heap_[best])) best = at;
  }
  return best == heap_.size() ? nullptr : takeAt(best);
}

void EdfRoundRobinPicker::siftDown(size_t at) {
  const size_t size = heap_.size();
  const Entry moving = heap_[at];
  for (;;) {
    size_t child = 2 * at + 1;
    if (child >= size) break;
    if (child + 1 < size && earlier(heap_[child + 1], heap_[child])) ++child;
    if (!earlier(heap_[child], moving)) break;
    heap_[at] = heap_[child];
    at = child;
  }
  heap_[at] = moving;
}

}  // namespace fiberlb::lb
