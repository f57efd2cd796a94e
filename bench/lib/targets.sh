# shellcheck shell=bash
# Backends and benchmark targets, sourced by bench/run.sh.
#
# start_<target> writes the target's config for the current scenario (SC_TLS, SC_L4), starts
# it in the foreground as a child of run.sh, waits until it serves, and sets TGT_PID (0 = no
# proxy) and TGT_URL. All targets are configured alike: the same two backends, round-robin,
# upstream keep-alive, no access log, no health check, one worker/thread, X-Forwarded-For
# added. With SC_L4=1 the proxies relay TCP instead (fiberlb protocol = "tcp", HAProxy mode
# tcp, NGINX stream {}): still the same two backends, round-robin per connection, one
# worker/thread, no log, no health check, but no HTTP parsing, so no upstream keep-alive
# pool and no X-Forwarded-For. Everything listens on 127.0.0.1 only.
# shellcheck disable=SC2034 # TGT_PID/TGT_URL/TGT_LOG/TGT_CONF/BACKEND_PID are read by run.sh

# ----------------------------------------------------------------------------- helpers

# nginx: a prefix of its own under $WORK with every temp/pid/log path inside it.
nginx_common() { # name
  local dir=$WORK/$1
  mkdir -p "$dir/tmp"
  cat <<EOF
$([ "$(id -u)" -eq 0 ] && echo "user root;")
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile $NOFILE;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $((NOFILE - 256)); multi_accept off; }
EOF
}

nginx_http_common() { # name
  local dir=$WORK/$1
  cat <<EOF
  access_log off;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  default_type text/plain;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
EOF
}

# Does this nginx have the stream module (L4)? Built in (--with-stream), or the dynamic
# module NGINX_STREAM_MODULE (default: Debian's libnginx-mod-stream path), loaded with
# load_module since our configs do not include /etc/nginx/modules-enabled. Checked once with
# `nginx -t` on a tiny stream config. Sets NGINX_STREAM_LOAD (the load_module line, or empty)
# and, when unavailable, NGINX_STREAM_WHY.
nginx_stream_available() {
  if [ -z "${NGINX_STREAM_STATE:-}" ]; then
    local dir=$WORK/nginx-stream-check so=${NGINX_STREAM_MODULE:-/usr/lib/nginx/modules/ngx_stream_module.so}
    NGINX_STREAM_STATE=no NGINX_STREAM_LOAD="" NGINX_STREAM_WHY=""
    if nginx -V 2>&1 | tr ' ' '\n' | grep -qx -- --with-stream; then
      : # built in
    elif [ -f "$so" ]; then
      NGINX_STREAM_LOAD="load_module $so;"
    else
      NGINX_STREAM_WHY="not built in and no $so; Debian: apt-get install libnginx-mod-stream"
    fi
    if [ -z "$NGINX_STREAM_WHY" ]; then
      mkdir -p "$dir"
      cat >"$dir/nginx.conf" <<EOF
$NGINX_STREAM_LOAD
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { }
stream { upstream b { server 127.0.0.1:$BACKEND1_PORT; } server { listen 127.0.0.1:$NGINX_PORT; proxy_pass b; } }
EOF
      if nginx -t -q -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/check.log" 2>&1; then
        NGINX_STREAM_STATE=yes
      else
        NGINX_STREAM_WHY="nginx -t rejects a stream config: $(tr '\n' ' ' <"$dir/check.log")"
      fi
    fi
  fi
  [ "$NGINX_STREAM_STATE" = yes ]
}

# Self-signed ECDSA P-256 certificate for the TLS scenarios (created once per run).
ensure_cert() {
  [ -s "$WORK/tls/bench.pem" ] && return 0
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$WORK/tls/bench.key" -out "$WORK/tls/bench.crt" 2>"$WORK/tls/openssl.log" ||
    die "openssl could not create the bench certificate (see $WORK/tls/openssl.log)"
  cat "$WORK/tls/bench.crt" "$WORK/tls/bench.key" >"$WORK/tls/bench.pem" # HAProxy wants one file
}

# ----------------------------------------------------------------------------- backends

# One NGINX (1 worker) with two plain servers (+ one TLS server for the `direct` TLS runs).
# GET / answers 200 with the 13-byte body "Hello, world!"; GET /1m serves 1 MiB from a file.
start_backends() {
  local dir=$WORK/backend conf=$WORK/backend/nginx.conf
  mkdir -p "$dir/www"
  head -c 1048576 /dev/zero | tr '\0' 'x' >"$dir/www/1m"
  ensure_cert
  {
    nginx_common backend
    echo "http {"
    nginx_http_common backend
    cat <<EOF
  sendfile on;
  tcp_nopush on;
  root $dir/www;
  server {
    listen 127.0.0.1:$BACKEND1_PORT;
    location = / { return 200 "Hello, world!"; }
    location = /1m { }
  }
  server {
    listen 127.0.0.1:$BACKEND2_PORT;
    location = / { return 200 "Hello, world!"; }
    location = /1m { }
  }
  server {
    listen 127.0.0.1:$BACKEND_TLS_PORT ssl;
    ssl_certificate $WORK/tls/bench.crt;
    ssl_certificate_key $WORK/tls/bench.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = / { return 200 "Hello, world!"; }
    location = /1m { }
  }
}
EOF
  } >"$conf"
  for p in "$BACKEND1_PORT" "$BACKEND2_PORT" "$BACKEND_TLS_PORT"; do ensure_port_free "$p"; done
  nginx -t -q -p "$dir/" -c "$conf" -e "$dir/error.log" ||
    die "backend nginx config invalid ($conf)"
  spawn "$dir/stdout.log" nginx -p "$dir/" -c "$conf" -e "$dir/error.log"
  BACKEND_PID=$SPAWNED_PID
  wait_up backend "$BACKEND_PID" "$BACKEND1_PORT" "$dir/error.log"
  wait_up backend "$BACKEND_PID" "$BACKEND2_PORT" "$dir/error.log"
  wait_up backend "$BACKEND_PID" "$BACKEND_TLS_PORT" "$dir/error.log"
  probe "http://127.0.0.1:$BACKEND1_PORT/" || die "backend 1 does not answer 200"
  probe "http://127.0.0.1:$BACKEND2_PORT/" || die "backend 2 does not answer 200"
}

# ----------------------------------------------------------------------------- targets

scheme() { if [ "$SC_TLS" = 1 ]; then echo https; else echo http; fi; }

# (a) wrk straight to one backend: the ceiling of this machine.
start_direct() {
  TGT_PID=0
  TGT_LOG=$WORK/backend/error.log TGT_CONF=$WORK/backend/nginx.conf
  if [ "$SC_TLS" = 1 ]; then
    TGT_URL="https://127.0.0.1:$BACKEND_TLS_PORT$SC_PATH"
  else
    TGT_URL="http://127.0.0.1:$BACKEND1_PORT$SC_PATH"
  fi
}

# (b) fiberlb, workers = 1. Override the binary with FIBERLB_BIN=...
start_fiberlb() {
  local dir=$WORK/fiberlb conf=$WORK/fiberlb/fiberlb.toml log=$WORK/fiberlb/fiberlb.log
  mkdir -p "$dir"
  rm -f "$dir/state.json"
  cat >"$conf" <<EOF
# Generated by bench/run.sh for scenario ${CUR_SCENARIO:-?}.
[photon]
mode = "standalone"
component_id = "fiberlb-bench"

[photon.logging]
level = "${FIBERLB_LOG_LEVEL:-info}"
access_log = ""

[photon.standalone]
dataplane = "userspace"

[standalone.server]
admin_api_addr = "127.0.0.1:$FIBERLB_ADMIN_PORT"
workers = 1
shutdown_grace_sec = 1
state_file = "$dir/state.json"

[[standalone.loadbalancers]]
name = "bench"
vip = "127.0.0.1"
port = $FIBERLB_PORT
protocol = "$([ "$SC_L4" = 1 ] && echo tcp || echo http)"
method = "roundrobin"
tls_termination = $([ "$SC_TLS" = 1 ] && echo true || echo false)

[[standalone.loadbalancers.backends]]
name = "b1"
address = "127.0.0.1"
port = $BACKEND1_PORT

[[standalone.loadbalancers.backends]]
name = "b2"
address = "127.0.0.1"
port = $BACKEND2_PORT

[standalone.loadbalancers.healthcheck]
type = "none"
EOF
  if [ "$SC_TLS" = 1 ]; then
    cat >>"$conf" <<EOF

[standalone.loadbalancers.tls]
cert_file = "$WORK/tls/bench.crt"
key_file = "$WORK/tls/bench.key"
min_version = "1.2"
EOF
  fi
  ensure_port_free "$FIBERLB_PORT"
  ensure_port_free "$FIBERLB_ADMIN_PORT"
  "$FIBERLB_BIN" check "$conf" >"$dir/check.log" 2>&1 ||
    die "fiberlb check rejected $conf:$(printf '\n'; cat "$dir/check.log")"
  TGT_LOG=$log TGT_CONF=$conf
  # shellcheck disable=SC2086 # FIBERLB_ARGS is a word list on purpose
  spawn "$log" "$FIBERLB_BIN" --config "$conf" ${FIBERLB_ARGS:-}
  TGT_PID=$SPAWNED_PID
  wait_up fiberlb "$TGT_PID" "$FIBERLB_PORT" "$log" "fiberlb ready"
  TGT_URL="$(scheme)://127.0.0.1:$FIBERLB_PORT$SC_PATH"
}

# (c) HAProxy, one thread, http-reuse always, no logging (L4: mode tcp).
start_haproxy() {
  local dir=$WORK/haproxy conf=$WORK/haproxy/haproxy.cfg log=$WORK/haproxy/haproxy.log
  local bind="127.0.0.1:$HAPROXY_PORT" defaults
  mkdir -p "$dir"
  [ "$SC_TLS" = 1 ] && bind+=" ssl crt $WORK/tls/bench.pem alpn http/1.1"
  if [ "$SC_L4" = 1 ]; then
    defaults="defaults
  mode tcp
  timeout connect 2s
  timeout client 60s
  timeout server 60s"
  else
    defaults="defaults
  mode http
  option http-keep-alive
  option forwardfor
  http-reuse always
  timeout connect 2s
  timeout client 60s
  timeout server 30s
  timeout http-request 10s
  timeout http-keep-alive 60s"
  fi
  cat >"$conf" <<EOF
# Generated by bench/run.sh for scenario ${CUR_SCENARIO:-?}.
global
  nbthread 1
  # HAProxy reserves two descriptors per connection; with a low hard limit (20000 here) that
  # would cap it below the idle scenario's 10000 client connections, which need one each.
  maxconn $((NOFILE - 512))
  no strict-limits
  ssl-default-bind-options ssl-min-ver TLSv1.2

$defaults

frontend bench
  bind $bind
  default_backend backends

backend backends
  balance roundrobin
  server b1 127.0.0.1:$BACKEND1_PORT
  server b2 127.0.0.1:$BACKEND2_PORT
EOF
  ensure_port_free "$HAPROXY_PORT"
  haproxy -c -q -f "$conf" >"$dir/check.log" 2>&1 ||
    die "haproxy rejected $conf:$(printf '\n'; cat "$dir/check.log")"
  TGT_LOG=$log TGT_CONF=$conf
  spawn "$log" haproxy -db -f "$conf"
  TGT_PID=$SPAWNED_PID
  wait_up haproxy "$TGT_PID" "$HAPROXY_PORT" "$log"
  TGT_URL="$(scheme)://127.0.0.1:$HAPROXY_PORT$SC_PATH"
}

# (d) NGINX, one worker, upstream keepalive 64, HTTP/1.1 upstream, no access log.
# L4 (SC_L4=1): a stream {} block instead, two-server upstream, round-robin per connection.
start_nginx() {
  local dir=$WORK/nginx conf=$WORK/nginx/nginx.conf
  local listen="127.0.0.1:$NGINX_PORT" tls=""
  mkdir -p "$dir"
  if [ "$SC_TLS" = 1 ]; then
    listen+=" ssl"
    tls="ssl_certificate $WORK/tls/bench.crt;
    ssl_certificate_key $WORK/tls/bench.key;
    ssl_protocols TLSv1.2 TLSv1.3;"
  fi
  if [ "$SC_L4" = 1 ]; then
    nginx_stream_available || die "nginx has no stream module ($NGINX_STREAM_WHY)"
    [ "$SC_TLS" = 1 ] && die "start_nginx: SC_L4 with SC_TLS is not implemented"
    {
      echo "# Generated by bench/run.sh for scenario ${CUR_SCENARIO:-?}."
      [ -n "$NGINX_STREAM_LOAD" ] && echo "$NGINX_STREAM_LOAD"
      nginx_common nginx
      cat <<EOF
stream {
  upstream backends {
    server 127.0.0.1:$BACKEND1_PORT;
    server 127.0.0.1:$BACKEND2_PORT;
  }
  server {
    listen $listen;
    proxy_pass backends;
  }
}
EOF
    } >"$conf"
  else
    {
      echo "# Generated by bench/run.sh for scenario ${CUR_SCENARIO:-?}."
      nginx_common nginx
      echo "http {"
      nginx_http_common nginx
      cat <<EOF
  upstream backends {
    server 127.0.0.1:$BACKEND1_PORT;
    server 127.0.0.1:$BACKEND2_PORT;
    keepalive 64;
    keepalive_requests 10000000;
  }
  server {
    listen $listen;
    $tls
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_max_temp_file_size 0;
    }
  }
}
EOF
    } >"$conf"
  fi
  ensure_port_free "$NGINX_PORT"
  nginx -t -q -p "$dir/" -c "$conf" -e "$dir/error.log" >"$dir/check.log" 2>&1 ||
    die "nginx rejected $conf:$(printf '\n'; cat "$dir/check.log")"
  TGT_LOG=$dir/error.log TGT_CONF=$conf
  spawn "$dir/stdout.log" nginx -p "$dir/" -c "$conf" -e "$dir/error.log"
  TGT_PID=$SPAWNED_PID
  wait_up nginx "$TGT_PID" "$NGINX_PORT" "$dir/error.log"
  TGT_URL="$(scheme)://127.0.0.1:$NGINX_PORT$SC_PATH"
}
