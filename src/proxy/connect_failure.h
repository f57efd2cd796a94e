#pragma once
// Why a connect to a backend failed, in the circuit breaker's terms.

#include <uv.h>

#include "lb/circuit_breaker.h"

namespace fiberlb::proxy {

inline lb::FailureInfo connectFailure(int uv_status) {
  switch (uv_status) {
    case UV_ECONNREFUSED:
      return {lb::FailureCause::Refused, 0};
    case UV_ETIMEDOUT:
      return {lb::FailureCause::ConnectTimeout, 0};
    case UV_EPROTO:  // UpstreamConn: the TLS handshake failed
      return {lb::FailureCause::TlsHandshake, 0};
    default:
      return {lb::FailureCause::ConnectFailed, 0};
  }
}

}  // namespace fiberlb::proxy
