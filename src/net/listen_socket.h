#pragma once
// Listening sockets for SO_REUSEPORT sharding: every worker gets its own socket bound to the
// same address, and the kernel spreads new connections across them without a shared lock.

#include <string>
#include <vector>

#include "src/net/address.h"

namespace fiberlb::net {

struct ListenResult {
  std::vector<int> fds;  // one per worker, bound and listening; empty on failure
  SocketAddress bound;   // the real address (the chosen port when 0 was asked)
  std::string error;     // operator-facing, names the address
};

// Creates `count` sockets on `addr` with SO_REUSEPORT. With port 0 the first socket picks
// an ephemeral port and the others bind to that same port. `stream` = TCP, else UDP.
ListenResult openListeners(const SocketAddress& addr, int count, bool stream, int backlog = 4096);

}  // namespace fiberlb::net
