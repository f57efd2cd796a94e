#pragma once
// The one hash of a request's hash key (SPEC §3 `hash_key`: source IP, header value, cookie
// value or URI) for `method = "hash"`. The session code computes it into PickContext::hash;
// tests and benchmarks use the same function so they see the keys the proxy would.

#include <xxhash.h>

#include <cstdint>
#include <string_view>

namespace fiberlb::lb {

// XXH3 (64 bits, seed 0): fast on short keys (an IPv4 address hashes in a few ns) and
// uniform in every bit, which the consistent-hash table relies on. Stable across processes
// and releases of xxHash 0.8, so a key maps to the same backend after a restart.
inline uint64_t hashKey(std::string_view bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

// splitmix64's output function (Steele, Lea, Flood 2014): a bijection that spreads every
// input bit over the whole word. Derives further independent hashes from one (retry
// probes) and seeds random generators.
inline uint64_t mixHash(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace fiberlb::lb
