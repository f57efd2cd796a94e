#pragma once
// Consistent hashing with a Maglev lookup table, SPEC §4 `hash`.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "lb/picker.h"

namespace fiberlb::lb {

// Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
// Balancer", NSDI 2016), weighted. A pick is one lookup: table[key hash mod M].
//
// Identity, not position: each backend's preference list (a permutation of the M slots,
// offset + j·skip mod M) comes from XXH3-128 of "lb/name", and the build visits backends in
// the order of that hash, so the table is a function of the set of (name, weight) pairs
// alone. Two workers, or two snapshots, with the same eligible backends map every key the
// same way however the endpoint list is ordered, and whichever BackendState objects carry
// the names (a reload that keeps a backend keeps its keys).
//
// Movement: removing or adding one of N backends moves its own keys (1/N) plus a few that
// did not have to move — Maglev's price for an even spread: claiming or freeing slots shifts
// the contested slots of the table's last rounds. Measured over 100,000 keys: 0.01%, 0.27%
// and 0.55% of all keys extra for N = 3, 10 and 100 (M = 65,537; tests/unit/lb/maglev_test.cc),
// 0.35% and 0.09% for N = 1,000 and 10,000 (M = 655,373) — there 3.5x and 9x the minimum,
// yet still under half a percent of the keys. A larger M lowers it (N = 100 with
// M = 655,373: 0.13%) at ten times the build cost below.
//
// Weights: backends take turns claiming their next preferred free slot; backend i takes its
// j-th turn at time (j + 1/2) / weight_i, so over the build each claims slots in proportion
// to its effective weight (to within a slot), and its turns do not depend on which other
// backends exist. Equal weights give the paper's plain rotation. A weight change (slow
// start) moves keys in proportion to the change.
//
// Table size M: a prime, 65,537 up to 655 endpoints (≥ 100 slots each: an average backend's
// share of the keys is within 1% of its weight's share), 655,373 beyond (65 slots each at
// 10,000 endpoints: within 1.5%). M follows the eligible endpoint count, so each time that
// count crosses 655/656 (a health flap there too) the table is laid out anew and most keys
// move.
//
// Build cost, paid by every worker for every published snapshot (Worker::applyUpdate):
// O(M log M) probes against a bitmap of M bits, so it depends on M far more than on the
// endpoint count — about 1 ms at M = 65,537 and 20 ms at M = 655,373 (bench/README.md).
// Memory: 4·M bytes per picker (256 KiB / 2.5 MiB), and as much again while building.
//
// Retries: when the table's backend for a key was already tried, slots of hashes derived
// from the key's are probed (up to 32), then every endpoint in a fixed order from the key's
// own: the retry of a key is as deterministic as its first pick, and the retries of a failed
// backend's keys spread over the others by weight. nullptr when all were tried.
//
// Immutable after construction: pick() only reads, never allocates.
class MaglevPicker final : public Picker {
 public:
  explicit MaglevPicker(std::span<const Endpoint> endpoints);

  // `ctx.hash`: the hash of the request's key (lb::hashKey).
  BackendState* pick(const PickContext& ctx) override;

  // M for an endpoint count (the two primes above).
  static uint32_t tableSizeFor(size_t endpoints);
  // M of this picker; 0 without endpoints.
  size_t tableSize() const { return table_.size(); }

 private:
  uint32_t slotOf(uint64_t hash) const;
  BackendState* pickSkippingTried(uint32_t slot, const PickContext& ctx) const;

  std::vector<BackendState*> backends_;  // in identity-hash order
  std::vector<uint32_t> table_;          // slot -> index into backends_
};

class MaglevPolicy final : public Policy {
 public:
  std::unique_ptr<Picker> makePicker(std::span<const Endpoint> endpoints) const override;
};

}  // namespace fiberlb::lb
