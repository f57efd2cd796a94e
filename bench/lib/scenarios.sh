# shellcheck shell=bash
# Benchmark scenarios, sourced by bench/run.sh.
#
# A scenario is one function `scenario_<name>` that adjusts the SC_* variables below (run.sh
# calls sc_defaults first). Target config generators (lib/targets.sh) read SC_TLS and SC_L4 and the
# measuring step reads SC_KIND, SC_PATH and SC_WRK_ARGS. To add a scenario, add a function
# here and name it in SCENARIOS=... (and in ALL_SCENARIOS); nothing else changes.
#
#   SC_KIND         wrk  = timed wrk run (req/s, latency, CPU/request, peak RSS)
#                   idle = hold IDLE_CONNS idle keep-alive connections, measure memory
#   SC_PATH         request path on the backends: / = 13-byte body, /1m = 1 MiB body
#   SC_TLS          1 = clients speak TLS to the target (proxies terminate; direct = TLS backend)
#   SC_L4           1 = the proxies listen in L4 TCP mode and relay bytes (no HTTP parsing)
#   SC_WRK_ARGS     wrk options other than the duration, script and URL
#   SC_SKIP_TARGETS targets this scenario does not apply to (space separated)
#   SC_SKIP_NOTE    why, when that is worth telling (logged once, recorded in latest.json)

# shellcheck disable=SC2034 # the SC_* variables are read by run.sh and lib/targets.sh

# What SCENARIOS=all runs, in this order (the default is "keepalive newconn tls_keepalive
# tls_newconn", see run.sh).
ALL_SCENARIOS="keepalive newconn tls_keepalive tls_newconn large idle l4_tcp"

sc_defaults() {
  SC_KIND=wrk
  SC_PATH=/
  SC_TLS=0
  SC_L4=0
  SC_WRK_ARGS=(-t"$THREADS" -c"$CONNECTIONS")
  SC_SKIP_TARGETS=""
  SC_SKIP_NOTE=""
}

# Plain HTTP/1.1, persistent client connections; the proxies keep upstream connections too.
scenario_keepalive() { :; }

# A new client connection per request (wrk reconnects after every response).
scenario_newconn() { SC_WRK_ARGS+=(-H "Connection: close"); }

# TLS termination (ECDSA P-256 certificate), persistent client connections.
scenario_tls_keepalive() { SC_TLS=1; }

# TLS handshake per request. wrk resumes sessions (TLS 1.3 session tickets, checked against
# nginx's $ssl_session_reused), so this is a resumed handshake (ECDHE, no signature) each time.
scenario_tls_newconn() {
  SC_TLS=1
  SC_WRK_ARGS+=(-H "Connection: close")
}

# 1 MiB responses: throughput of the body relay (fewer connections: it is bandwidth-bound).
scenario_large() {
  SC_PATH=/1m
  SC_WRK_ARGS=(-t"$THREADS" -c"${LARGE_CONNECTIONS:-10}")
}

# Memory held by IDLE_CONNS (default 10000) idle keep-alive client connections.
scenario_idle() {
  SC_KIND=idle
  SC_SKIP_TARGETS="direct"
}

# L4: the proxies relay TCP bytes (fiberlb protocol = "tcp", HAProxy mode tcp, NGINX stream {})
# to the same two HTTP backends; wrk as in keepalive. Balancing is per connection: each of
# wrk's persistent connections stays on the backend it was given. NGINX needs its stream
# module (Debian's nginx-light has it only as libnginx-mod-stream); without it, it is skipped.
scenario_l4_tcp() {
  SC_L4=1
  if ! nginx_stream_available; then
    SC_SKIP_TARGETS="nginx"
    SC_SKIP_NOTE="nginx has no stream module ($NGINX_STREAM_WHY)"
  fi
}
