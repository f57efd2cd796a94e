#pragma once
// fiberlb_tls_handshakes_total for every kind of client session.

#include "lb/lb_stats.h"
#include "src/net/tls/tls_channel.h"

namespace fiberlb::proxy {

inline void countTlsHandshake(lb::LbStatsShard& shard, const net::tls::TlsChannel& channel,
                              bool ok) {
  if (!ok) {
    shard.tls_handshakes_failed.fetch_add(1, std::memory_order_relaxed);
  } else if (channel.resumed()) {
    shard.tls_handshakes_resumed.fetch_add(1, std::memory_order_relaxed);
  } else {
    shard.tls_handshakes_full.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace fiberlb::proxy
