#!/usr/bin/env bash
# fiberlb side-by-side benchmark: wrk against one backend directly, fiberlb, HAProxy and
# NGINX, all on loopback, configured alike, alternating targets run by run. Prints a table
# of medians with ratios to HAProxy and writes bench/results/latest.{json,png}.
# See bench/README.md.
#
#   bench/run.sh                                  # full: 3 rounds x 10 s, keepalive newconn tls_keepalive tls_newconn
#   DURATION=3 ROUNDS=1 bench/run.sh              # quick (< 1 min)
#   TARGETS="haproxy nginx" bench/run.sh          # a subset of targets
#   SCENARIOS=all bench/run.sh                   # keepalive newconn tls_keepalive tls_newconn large idle l4_tcp
#   FIBERLB_BIN=build/h-bench/src/fiberlb bench/run.sh   # use this binary, do not build
#
# Environment (defaults): DURATION=10 (s per run) ROUNDS=3 WARMUP=1 (s, not measured)
#   CONNECTIONS=50 THREADS=1 TARGETS="direct fiberlb haproxy nginx" SCENARIOS="keepalive newconn tls_keepalive tls_newconn"
#   BASE_PORT=18800 STARTUP_TIMEOUT=15 IDLE_CONNS=10000 LARGE_CONNECTIONS=10
#   FIBERLB_BIN (skip the build) SKIP_BUILD=1 (use build/release as is) NO_INSTALL=1
#   FIBERLB_ARGS (extra command-line words) FIBERLB_LOG_LEVEL=info
#   NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so (l4_tcp; skipped without it)
#   RESULTS=bench/results (where latest.json/png go) WORK=bench/work (scratch, git-ignored)
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-1}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-1}
TARGETS=${TARGETS:-direct fiberlb haproxy nginx}
SCENARIOS=${SCENARIOS:-keepalive newconn tls_keepalive tls_newconn}
BASE_PORT=${BASE_PORT:-18800}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-15}
IDLE_CONNS=${IDLE_CONNS:-10000}
WORK=${WORK:-$BENCH_DIR/work}
RESULTS=${RESULTS:-$BENCH_DIR/results}
FIBERLB_BIN=${FIBERLB_BIN:-}

BACKEND1_PORT=$((BASE_PORT + 1))
BACKEND2_PORT=$((BASE_PORT + 2))
BACKEND_TLS_PORT=$((BASE_PORT + 3))
FIBERLB_PORT=$((BASE_PORT + 10))
FIBERLB_ADMIN_PORT=$((BASE_PORT + 11))
HAPROXY_PORT=$((BASE_PORT + 20))
NGINX_PORT=$((BASE_PORT + 30))

PY=(python3 -B "$BENCH_DIR/lib/benchlib.py")
LIVE_PIDS=()   # every process we started and have not stopped yet
BACKEND_PID=0
TGT_PID=0
TGT_URL=""
SKIPPED=()     # "scenario/target: why" for targets a scenario skipped with a note

# ----------------------------------------------------------------------------- helpers

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf '\nbench: FATAL: %s\n' "$*" >&2
  exit 1
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# A process is alive when it exists and is not a zombie.
alive() {
  local line
  { read -r line </proc/"$1"/stat; } 2>/dev/null || return 1
  line=${line##*) }
  [ "${line%% *}" != Z ]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_port_free() {
  if port_open "$1"; then
    die "127.0.0.1:$1 is already in use (another bench running? stale process? set BASE_PORT=...)"
  fi
}

# Start a command in the background, output to a log; remember its pid for the cleanup.
spawn() { # logfile cmd...
  local logf=$1
  shift
  "$@" >"$logf" 2>&1 </dev/null &
  SPAWNED_PID=$!
  LIVE_PIDS+=("$SPAWNED_PID")
}

# Poll until the port accepts connections (and the log shows ready_text, if given); fail
# loudly when the process dies or the deadline passes. No blind sleeps.
wait_up() { # name pid port logfile [ready_text]
  local name=$1 pid=$2 port=$3 logf=$4 ready=${5:-}
  local deadline=$(($(now_ms) + STARTUP_TIMEOUT * 1000))
  while :; do
    if ! alive "$pid"; then
      die "$name (pid $pid) exited during start-up; last lines of $logf:
$(tail -n 20 "$logf" 2>/dev/null)"
    fi
    if port_open "$port" && { [ -z "$ready" ] || grep -qF "$ready" "$logf" 2>/dev/null; }; then
      return 0
    fi
    if (($(now_ms) > deadline)); then
      die "$name did not come up on 127.0.0.1:$port${ready:+ (and print \"$ready\")} within ${STARTUP_TIMEOUT}s; last lines of $logf:
$(tail -n 20 "$logf" 2>/dev/null)"
    fi
    sleep 0.02
  done
}

probe() { "${PY[@]}" probe --timeout 5 "$1" >/dev/null; }

descendants() { # pid -> pids of its children, grandchildren...
  local kid
  for kid in $(pgrep -P "$1" 2>/dev/null || true); do
    echo "$kid"
    descendants "$kid"
  done
}

# SIGTERM, then SIGKILL after a grace period; the pid and the descendants it had.
stop_pid() { # pid
  local pid=$1 kids p deadline any
  kids=$(descendants "$pid")
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$(($(now_ms) + 5000))
  while :; do
    any=0
    for p in $pid $kids; do alive "$p" && any=1; done
    ((any)) || break
    if (($(now_ms) > deadline)); then
      log "pid $pid did not stop on SIGTERM within 5 s; SIGKILL"
      # shellcheck disable=SC2086
      kill -KILL $pid $kids 2>/dev/null || true
      deadline=$(($(now_ms) + 5000))
    fi
    sleep 0.02
  done
  wait "$pid" 2>/dev/null || true
  local keep=() q
  for q in "${LIVE_PIDS[@]}"; do [ "$q" = "$pid" ] || keep+=("$q"); done
  LIVE_PIDS=(${keep[@]+"${keep[@]}"})
}

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in ${LIVE_PIDS[@]+"${LIVE_PIDS[@]}"}; do stop_pid "$pid"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'echo >&2; log "interrupted"; exit 130' INT TERM
trap 'echo "bench: error at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND" >&2' ERR

# shellcheck source=lib/scenarios.sh
. "$BENCH_DIR/lib/scenarios.sh"
# shellcheck source=lib/targets.sh
. "$BENCH_DIR/lib/targets.sh"

# ----------------------------------------------------------------------------- steps

prepare() {
  mkdir -p "$WORK" "$RESULTS"
  # WORK is wiped at every start: refuse a directory that is not ours.
  if [ ! -e "$WORK/.bench-work" ] && [ ! -e "$WORK/.lock" ] && [ -n "$(ls -A "$WORK")" ]; then
    die "WORK=$WORK is not empty and was not created by bench/run.sh; refusing to wipe it"
  fi
  touch "$WORK/.bench-work"
  exec 9>"$WORK/.lock"
  flock -n 9 || die "another bench/run.sh is running with WORK=$WORK"
  find "$WORK" -mindepth 1 -maxdepth 1 ! -name .lock ! -name .bench-work -exec rm -rf {} +
  mkdir -p "$WORK/logs" "$WORK/configs"

  if [ "${NO_INSTALL:-0}" != 1 ] && [ -x "$ROOT/scripts/install-deps.sh" ]; then
    "$ROOT/scripts/install-deps.sh" bench || die "scripts/install-deps.sh bench failed"
  fi
  local tool
  for tool in wrk haproxy nginx python3 openssl pgrep flock; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh bench installs it)"
  done
  if [ "$SCENARIOS" = all ]; then
    SCENARIOS=$ALL_SCENARIOS
  fi
  for sc in $SCENARIOS; do
    declare -F "scenario_$sc" >/dev/null || die "unknown scenario '$sc' (see bench/lib/scenarios.sh)"
  done
  for t in $TARGETS; do
    declare -F "start_$t" >/dev/null || die "unknown target '$t' (direct fiberlb haproxy nginx)"
  done

  # Enough descriptors for 10k idle connections (client + proxy + backends).
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  NOFILE=$(ulimit -n)
  [ "$NOFILE" = unlimited ] && NOFILE=1048576
  ((NOFILE > 1048576)) && NOFILE=1048576
  return 0
}

build_fiberlb() {
  [[ " $TARGETS " == *" fiberlb "* ]] || return 0
  if [ -n "$FIBERLB_BIN" ]; then
    [ -x "$FIBERLB_BIN" ] || die "FIBERLB_BIN=$FIBERLB_BIN is not an executable"
    FIBERLB_BIN=$(cd "$(dirname "$FIBERLB_BIN")" && pwd)/$(basename "$FIBERLB_BIN")
    return 0
  fi
  FIBERLB_BIN=$ROOT/build/release/src/fiberlb
  if [ "${SKIP_BUILD:-0}" = 1 ]; then
    [ -x "$FIBERLB_BIN" ] || die "SKIP_BUILD=1 but $FIBERLB_BIN does not exist"
    return 0
  fi
  log "building fiberlb (Release): cmake --preset release && cmake --build build/release --target fiberlb"
  if ! (cd "$ROOT" && cmake --preset release && cmake --build build/release -j2 --target fiberlb) \
    >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2
    die "building fiberlb failed (full log: $WORK/build.log)"
  fi
  [ -x "$FIBERLB_BIN" ] || die "build succeeded but $FIBERLB_BIN is missing"
}

# Run a private copy, so that a rebuild during the bench cannot mix two binaries.
snapshot_fiberlb() {
  [[ " $TARGETS " == *" fiberlb "* ]] || return 0
  mkdir -p "$WORK/bin"
  cp "$FIBERLB_BIN" "$WORK/bin/fiberlb"
  FIBERLB_SOURCE_BIN=$FIBERLB_BIN
  FIBERLB_BIN=$WORK/bin/fiberlb
  log "fiberlb: $("$FIBERLB_BIN" --version 2>&1 | head -n 1) ($FIBERLB_SOURCE_BIN)"
}

# For error messages: is the target still alive, and the end of its log.
target_state() {
  if [ "$TGT_PID" != 0 ] && ! alive "$TGT_PID"; then
    local rc=0
    wait "$TGT_PID" 2>/dev/null || rc=$?
    printf ' (it exited with status %s)' "$rc"
  fi
  printf '; last lines of %s:\n%s' "$TGT_LOG" "$(tail -n 20 "$TGT_LOG" 2>/dev/null)"
}

# One measured run: start the target, warm up, measure, stop.
run_one() { # scenario target round
  local sc=$1 t=$2 round=$3 logf
  CUR_SCENARIO=$sc
  logf="$WORK/logs/r$round-$sc-$t.log"
  TGT_PID=0
  "start_$t"
  probe "$TGT_URL" || die "$t does not answer 200 on $TGT_URL$(target_state)"
  cp "$TGT_CONF" "$WORK/configs/$sc.$t.conf"
  printf '[bench] round %s/%s  %-14s %-8s ' "$round" "$ROUNDS" "$sc" "$t" >&2
  case $SC_KIND in
    wrk)
      if [ "$WARMUP" != 0 ]; then
        wrk "${SC_WRK_ARGS[@]}" -d"${WARMUP}s" "$TGT_URL" >"$logf.warmup" 2>&1 ||
          die "wrk warm-up against $t failed: $(cat "$logf.warmup")"
      fi
      "${PY[@]}" measure --target "$t" --scenario "$sc" --round "$round" \
        --proxy-pid "$TGT_PID" --backend-pid "$BACKEND_PID" --append "$WORK/runs.jsonl" \
        --log "$logf" -- wrk "${SC_WRK_ARGS[@]}" -d"${DURATION}s" --timeout 5s \
        -s "$BENCH_DIR/lib/stats.lua" "$TGT_URL" >&2 ||
        die "measuring $t failed (log: $logf)"
      ;;
    idle)
      local port=${TGT_URL#*://127.0.0.1:} tls=()
      port=${port%%/*}
      [ "$SC_TLS" = 1 ] && tls=(--tls)
      "${PY[@]}" idle --target "$t" --scenario "$sc" --round "$round" \
        --proxy-pid "$TGT_PID" --append "$WORK/runs.jsonl" --port "$port" --path "$SC_PATH" \
        --conns "$IDLE_CONNS" ${tls[@]+"${tls[@]}"} >&2 ||
        die "idle-connection measurement against $t failed"
      ;;
    *) die "scenario $sc: unknown SC_KIND=$SC_KIND" ;;
  esac
  if [ "$TGT_PID" != 0 ]; then
    alive "$TGT_PID" || die "$t died during the run$(target_state)"
    stop_pid "$TGT_PID"
  fi
  TGT_PID=0
}

# Say once (stderr, and latest.json's params.skipped) why a target was left out of a scenario.
note_skip() { # scenario target
  local s
  [ -n "$SC_SKIP_NOTE" ] || return 0
  for s in ${SKIPPED[@]+"${SKIPPED[@]}"}; do [[ $s == "$1/$2:"* ]] && return 0; done
  SKIPPED+=("$1/$2: $SC_SKIP_NOTE")
  log "skipping $2 in $1: $SC_SKIP_NOTE"
}

main() {
  prepare
  build_fiberlb
  snapshot_fiberlb
  local targets n round i sc t
  read -r -a targets <<<"$TARGETS"
  n=${#targets[@]}
  log "targets: $TARGETS | scenarios: $SCENARIOS | $ROUNDS round(s) x ${DURATION}s (+${WARMUP}s warm-up) | wrk -t$THREADS -c$CONNECTIONS | $(nproc) CPUs"
  start_backends
  for ((round = 1; round <= ROUNDS; round++)); do
    for sc in $SCENARIOS; do
      sc_defaults
      "scenario_$sc"
      # Rotate the order every round so no target always runs first or last.
      for ((i = 0; i < n; i++)); do
        t=${targets[$(((i + round - 1) % n))]}
        if [[ " $SC_SKIP_TARGETS " == *" $t "* ]]; then
          note_skip "$sc" "$t"
          continue
        fi
        run_one "$sc" "$t" "$round"
      done
    done
  done
  stop_pid "$BACKEND_PID"
  BACKEND_PID=0

  local chart=()
  [ "${NO_CHART:-0}" = 1 ] || chart=(--png "$RESULTS/latest.png")
  local skipped="" s
  for s in ${SKIPPED[@]+"${SKIPPED[@]}"}; do skipped+="${skipped:+; }$s"; done
  "${PY[@]}" report --runs "$WORK/runs.jsonl" --configs "$WORK/configs" --out "$RESULTS/latest.json" "${chart[@]}" \
    ${skipped:+--param "skipped=$skipped"} \
    --param "targets=$TARGETS" --param "scenarios=$SCENARIOS" --param "rounds=$ROUNDS" \
    --param "duration=$DURATION" --param "warmup=$WARMUP" --param "connections=$CONNECTIONS" \
    --param "threads=$THREADS" --param "idle_conns=$IDLE_CONNS" \
    --param "fiberlb_bin=${FIBERLB_BIN:-}" --param "fiberlb_source_bin=${FIBERLB_SOURCE_BIN:-}"
}

main "$@"
