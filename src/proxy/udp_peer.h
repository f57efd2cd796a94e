#pragma once
// A UDP client's address, as a UdpProxy keeps it: whole, to send the client its replies, and
// packed into a key for the worker's session table.

#include <netinet/in.h>
#include <sys/socket.h>
#include <xxhash.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace fiberlb::proxy {

union UdpPeer {
  sockaddr sa;
  sockaddr_in v4;
  sockaddr_in6 v6;
};

// Family, port and IP packed into three words: equality is three compares and the hash
// reads no padding.
struct UdpPeerKey {
  uint64_t words[3] = {0, 0, 0};
  bool operator==(const UdpPeerKey&) const = default;
};

// Writes `addr` into `peer` and `key`; false (nothing written) for a family other than IPv4
// and IPv6.
inline bool readPeer(const sockaddr* addr, UdpPeer* peer, UdpPeerKey* key) {
  if (addr->sa_family == AF_INET) {
    std::memcpy(&peer->v4, addr, sizeof peer->v4);
    key->words[0] =
        uint64_t{AF_INET} << 48 | uint64_t{peer->v4.sin_port} << 32 | peer->v4.sin_addr.s_addr;
    key->words[1] = key->words[2] = 0;
    return true;
  }
  if (addr->sa_family == AF_INET6) {
    std::memcpy(&peer->v6, addr, sizeof peer->v6);
    std::memcpy(&key->words[0], &peer->v6.sin6_addr, 16);
    key->words[2] =
        uint64_t{AF_INET6} << 48 | uint64_t{peer->v6.sin6_port} << 32 | peer->v6.sin6_scope_id;
    return true;
  }
  return false;
}

// Seeded per table, so that nobody outside can choose source addresses that collide (the
// source address of a datagram is whatever the sender writes into it).
struct UdpPeerHash {
  uint64_t seed = 0;
  size_t operator()(const UdpPeerKey& key) const {
    return XXH3_64bits_withSeed(key.words, sizeof key.words, seed);
  }
};

}  // namespace fiberlb::proxy
