#pragma once
// The option tables of one load balancer: healthcheck, circuit_breaker, timeouts, retries
// and tls. Each reader reads its table (absent = defaults) and calls finish() on it.

#include "config/config.h"
#include "config/toml_reader.h"

namespace fiberlb::config {

void readHealthCheck(TableReader t, HealthCheck& out);
void readCircuitBreaker(TableReader t, CircuitBreaker& out);
void readTimeouts(TableReader t, Timeouts& out);
void readRetries(TableReader t, Retries& out);
void readTls(TableReader t, Tls& out);

}  // namespace fiberlb::config
