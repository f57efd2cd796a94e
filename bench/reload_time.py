#!/usr/bin/env python3
"""Reload time: how long fiberlb takes to reload a config with 1,000 backends, and what
reloading does to the latency of traffic flowing through it (issue 7).

Builds nothing. Runs a private copy of the fiberlb binary in $FIBERLB_BIN (default
build/release/src/fiberlb) with workers = 1 and ONE http load balancer whose BACKENDS
backends (distinct names, all 127.0.0.1:<port>) point at one NGINX backend (1 worker,
GET / -> 200 "Hello, world!", as in bench/run.sh). No health check, so all are eligible.
Everything listens on 127.0.0.1 only.

1. Reload latency: SAMPLES times, rewrite the config (alternately add and remove one
   backend; written to a temp file, then os.rename'd into place) and time
   POST /api/config/reload on the admin API (wall time of the call, which answers after the
   new config is applied). The "config reloaded" log lines are counted as a cross-check.
2. p99 effect: after a warm-up, wrk -tTHREADS -cCONNECTIONS -dDURATION --latency against the
   LB twice: once without reloads, once while a thread POSTs a reload every RELOAD_EVERY s
   (alternating the two configs); ROUNDS times, the order swapped every other round.
   p50/p99/p99.9/max latency, requests/s and errors side by side (medians over rounds),
   the reload times measured under load, and "other CPU": the share of the machine used
   by processes other than ours during the run (>= 15 % is flagged: a noisy run).
3. Sweep: step 1 again for each backend count of SWEEP, on a fresh fiberlb each time (no
   load), to see how the reload time scales with the number of backends.

A reload's wall time includes writing fiberlb's state file (state_file: temp file, fsync,
rename, fsync of the directory), i.e. two fsyncs of the disk under the work directory
(tempfile's, usually /tmp). STATE_DIR=/dev/shm puts the state file on tmpfs to take the
disk out of the figure.

Prints a table and writes bench/results/reload_time.json. Every process it starts is
stopped when it ends, fails or is interrupted (Ctrl-C). Exit status 2 when the setup fails.

Environment (defaults): FIBERLB_BIN, BACKENDS (1000), SAMPLES (10), DURATION (10, s per wrk
run), WARMUP (2, s), CONNECTIONS (50), THREADS (1), RELOAD_EVERY (1.0, s), ROUNDS (1),
SWEEP ("10,100,1000,10000"; "" = no sweep), NO_LOAD (0; 1 skips the wrk part),
STATE_DIR ("" = the work directory), RESULTS (bench/results).
Python 3 standard library only; needs nginx and wrk on the PATH.
"""

import datetime
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
import benchlib  # noqa: E402  (run_wrk, parse_wrk: one wrk runner for every bench script)

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
FIBERLB_BIN = os.path.abspath(
    os.environ.get("FIBERLB_BIN", os.path.join(REPO, "build/release/src/fiberlb")))
BACKENDS = int(os.environ.get("BACKENDS", "1000"))
SAMPLES = int(os.environ.get("SAMPLES", "10"))
DURATION = int(os.environ.get("DURATION", "10"))
WARMUP = int(os.environ.get("WARMUP", "2"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "50"))
THREADS = int(os.environ.get("THREADS", "1"))
RELOAD_EVERY = float(os.environ.get("RELOAD_EVERY", "1.0"))
ROUNDS = int(os.environ.get("ROUNDS", "1"))
SWEEP = [int(x) for x in os.environ.get("SWEEP", "10,100,1000,10000").replace(" ", "").split(",")
         if x]
NO_LOAD = os.environ.get("NO_LOAD", "0") == "1"
STATE_DIR = os.environ.get("STATE_DIR", "")  # where fiberlb's state file goes ("" = work dir)
RESULTS = os.path.abspath(os.environ.get("RESULTS", os.path.join(BENCH, "results")))
STARTUP_TIMEOUT_SEC = 30
RELOAD_TIMEOUT_SEC = 60


class SetupError(Exception):
    pass


def log(msg):
    print(f"[reload {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def http_call(port, method, path, timeout=10.0):
    """(status, body) of one request on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, headers={"Content-Length": "0"} if method == "POST" else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


# ----------------------------------------------------------------------------- processes


class Procs:
    """Every process we started; stop() is SIGTERM, then SIGKILL after 5 s."""

    def __init__(self):
        self.live = []

    def spawn(self, cmd, logpath):
        logf = open(logpath, "wb")
        try:
            p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            logf.close()
        self.live.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                log(f"pid {p.pid} did not stop on SIGTERM within 5 s; SIGKILL")
                try:
                    os.killpg(p.pid, signal.SIGKILL)  # its own session: nginx's workers too
                except OSError:
                    p.kill()
                p.wait()
        if p in self.live:
            self.live.remove(p)

    def stop_all(self):
        for p in reversed(list(self.live)):
            self.stop(p)


def wait_up(name, proc, port, logpath, ready_text=None):
    deadline = time.monotonic() + STARTUP_TIMEOUT_SEC
    while True:
        if proc.poll() is not None:
            raise SetupError(f"{name} exited with status {proc.returncode} during start-up; "
                             f"last lines of {logpath}:\n{tail(logpath)}")
        if port_open(port):
            if ready_text is None:
                return
            with open(logpath, errors="replace") as f:
                if ready_text in f.read():
                    return
        if time.monotonic() > deadline:
            raise SetupError(f"{name} did not come up on 127.0.0.1:{port} within "
                             f"{STARTUP_TIMEOUT_SEC} s; last lines of {logpath}:\n{tail(logpath)}")
        time.sleep(0.02)


# ----------------------------------------------------------------------------- backend


def start_backend(procs, work, port):
    """One NGINX with one worker: GET / -> 200 "Hello, world!" (bench/run.sh's backend)."""
    d = os.path.join(work, "backend")
    os.makedirs(os.path.join(d, "tmp"), exist_ok=True)
    nofile = 20000
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard == resource.RLIM_INFINITY or hard > 1048576:
            hard = 1048576
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        nofile = hard
    except (ImportError, ValueError, OSError):
        pass
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""# Generated by bench/reload_time.py.
{"user root;" if os.geteuid() == 0 else ""}
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections {max(1024, nofile - 256)}; multi_accept off; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  default_type text/plain;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  server {{
    listen 127.0.0.1:{port};
    location = / {{ return 200 "Hello, world!"; }}
  }}
}}
""")
    errlog = os.path.join(d, "error.log")
    check = subprocess.run(["nginx", "-t", "-q", "-p", d + "/", "-c", conf, "-e", errlog],
                           capture_output=True, text=True)
    if check.returncode != 0:
        raise SetupError(f"backend nginx config invalid ({conf}): {check.stderr.strip()}")
    p = procs.spawn(["nginx", "-p", d + "/", "-c", conf, "-e", errlog],
                    os.path.join(d, "stdout.log"))
    wait_up("backend nginx", p, port, errlog)
    status, _ = http_call(port, "GET", "/")
    if status != 200:
        raise SetupError(f"backend nginx answers {status} on GET /")
    return p


# ----------------------------------------------------------------------------- fiberlb


def fiberlb_config(state_file, lb_port, admin_port, backend_port, count, extra):
    """The TOML text: one http LB, `count` backends named n0000.. at 127.0.0.1:backend_port,
    plus one more (`extra`) when extra is True."""
    names = [f"n{i:05d}" for i in range(count)] + (["extra"] if extra else [])
    out = [f"""# Generated by bench/reload_time.py: {len(names)} backends.
[photon]
mode = "standalone"
component_id = "fiberlb-reload-bench"

[photon.logging]
level = "info"
access_log = ""

[photon.standalone]
dataplane = "userspace"

[standalone.server]
admin_api_addr = "127.0.0.1:{admin_port}"
workers = 1
shutdown_grace_sec = 1
state_file = "{state_file}"

[[standalone.loadbalancers]]
name = "bench"
vip = "127.0.0.1"
port = {lb_port}
protocol = "http"
method = "roundrobin"

[standalone.loadbalancers.healthcheck]
type = "none"
"""]
    for n in names:
        out.append(f"""
[[standalone.loadbalancers.backends]]
name = "{n}"
address = "127.0.0.1"
port = {backend_port}
""")
    return "".join(out)


def write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


class Fiberlb:
    def __init__(self, procs, work, binary, backend_port, count):
        self.procs = procs
        self.dir = os.path.join(work, "fiberlb")
        os.makedirs(self.dir, exist_ok=True)
        state_dir = STATE_DIR or self.dir
        os.makedirs(state_dir, exist_ok=True)
        self.state_file = os.path.join(state_dir, f"fiberlb-reload-state-{os.getpid()}.json")
        try:
            os.remove(self.state_file)
        except FileNotFoundError:
            pass
        self.binary = binary
        self.backend_port = backend_port
        self.count = count
        self.lb_port = free_port()
        self.admin_port = free_port()
        while self.admin_port == self.lb_port:
            self.admin_port = free_port()
        self.conf = os.path.join(self.dir, "fiberlb.toml")
        self.logpath = os.path.join(self.dir, f"fiberlb-{count}.log")
        self.texts = [fiberlb_config(self.state_file, self.lb_port, self.admin_port, backend_port, count, x)
                      for x in (False, True)]
        self.which = 0  # index of the text now in the file
        write_atomically(self.conf, self.texts[0])
        check = subprocess.run([binary, "check", self.conf], capture_output=True, text=True)
        if check.returncode != 0:
            raise SetupError(f"fiberlb check rejected {self.conf}:\n{check.stderr}")
        t0 = time.monotonic()
        self.proc = procs.spawn([binary, "--config", self.conf], self.logpath)
        wait_up("fiberlb", self.proc, self.lb_port, self.logpath, "fiberlb ready")
        wait_up("fiberlb admin API", self.proc, self.admin_port, self.logpath)
        self.startup_ms = (time.monotonic() - t0) * 1000
        status, body = http_call(self.lb_port, "GET", "/")
        if status != 200:
            raise SetupError(f"fiberlb answers {status} on GET /: {body[:200]!r}; "
                             f"last lines of {self.logpath}:\n{tail(self.logpath)}")
        self.lock = threading.Lock()
        self.raced = 0
        time.sleep(0.5)  # let the control loop settle after start-up

    def reload(self):
        """Switch the file to the other config, POST /api/config/reload; returns the wall
        milliseconds of the call. Raises on a failed reload.

        fiberlb also watches its config file (100 ms debounce) and skips content it has
        loaded already, so normally the POST, sent right after the rename, does the reload
        and the watch then finds nothing new. When fiberlb's control loop was busy, the watch
        can win: the POST then answers with no changes and has measured nothing; that sample
        is counted in `raced` and taken again."""
        for _ in range(5):
            with self.lock:
                self.which ^= 1
                write_atomically(self.conf, self.texts[self.which])
                t0 = time.perf_counter()
                status, body = http_call(self.admin_port, "POST", "/api/config/reload",
                                         timeout=RELOAD_TIMEOUT_SEC)
                ms = (time.perf_counter() - t0) * 1000
            if status != 200:
                raise RuntimeError(f"reload answered {status}: {body[:300]!r}")
            changes = json.loads(body).get("changes", {})
            if any(changes.get(k) for k in ("added", "removed", "modified")):
                return ms
            self.raced += 1
            time.sleep(0.3)  # let the watch's reload (and its debounce) finish
        raise RuntimeError(f"5 reloads in a row changed nothing: {body[:300]!r}")

    def log_counts(self):
        """('config reloaded' lines, file-watch reloads) in fiberlb's log so far."""
        with open(self.logpath, errors="replace") as f:
            text = f.read()
        return text.count("config reloaded"), len(re.findall(r"config file .* changed", text))

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.procs.stop(self.proc)
        if STATE_DIR:
            for p in (self.state_file, self.state_file + ".tmp"):
                try:
                    os.remove(p)
                except FileNotFoundError:
                    pass


def measure_reloads(lb, samples):
    before, _ = lb.log_counts()
    times = []
    for _ in range(samples):
        times.append(lb.reload())
        # Let the workers pick the snapshot up and the file watch's debounce (100 ms) pass.
        time.sleep(0.2)
    after, watch = lb.log_counts()
    if after - before < samples:
        log(f"warning: {samples} reloads but only {after - before} 'config reloaded' log lines")
    if lb.raced:
        log(f"note: so far {lb.raced} POST(s) lost the race to the file watch and were retaken "
            f"({watch} file-watch reloads in the log)")
    return times


def stats_of(times):
    return {
        "samples": len(times),
        "median_ms": round(statistics.median(times), 2),
        "min_ms": round(min(times), 2),
        "max_ms": round(max(times), 2),
        "all_ms": [round(t, 2) for t in times],
    }


# ----------------------------------------------------------------------------- wrk

UNIT_US = {"us": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000}


def to_us(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    return float(m.group(1)) * UNIT_US[m.group(2)] if m else None


def parse_wrk(out):
    """wrk's --latency text, plus the WRK_JSON line of bench/lib/stats.lua when present."""
    r = {"latency_us": {}, "errors": {"connect": 0, "read": 0, "write": 0, "timeout": 0,
                                      "status": 0}}
    for line in out.splitlines():
        s = line.strip()
        m = re.fullmatch(r"(50|75|90|99)%\s+(\S+)", s)
        if m:
            r["latency_us"]["p" + m.group(1)] = to_us(m.group(2))
        m = re.match(r"Requests/sec:\s+([\d.]+)", s)
        if m:
            r["rps"] = float(m.group(1))
        m = re.match(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", s)
        if m:
            for k, v in zip(("connect", "read", "write", "timeout"), m.groups()):
                r["errors"][k] = int(v)
        m = re.match(r"Non-2xx or 3xx responses:\s+(\d+)", s)
        if m:
            r["errors"]["status"] = int(m.group(1))
        m = re.match(r"(\d+) requests in", s)
        if m:
            r["requests"] = int(m.group(1))
    j = benchlib.parse_wrk(out)  # the WRK_JSON line of bench/lib/stats.lua, when present
    if j is not None:
        r["latency_us"].update(j["latency_us"])
        r["requests"] = j["requests"]
        r["errors"] = j["errors"]
        r["rps"] = j["requests"] / (j["duration_us"] / 1e6)
    return r


def run_wrk(url, duration, lua):
    """wrk's output and the CPU seconds wrk used (bench/lib/benchlib.py runs it)."""
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency",
           "--timeout", "5s"]
    if lua:
        cmd += ["-s", lua]
    cmd.append(url)
    code, out, cpu = benchlib.run_wrk(cmd)
    if code != 0:
        raise RuntimeError(f"wrk exited {code}:\n{out}")
    return out, cpu


# ----------------------------------------------------------------------------- CPU use

CLK_TCK = os.sysconf("SC_CLK_TCK")


def system_ticks():
    """(busy, total) jiffies of the whole machine, all CPUs. Busy is user + nice + system
    (as bench/lib/benchlib.py): softirq is left out, since most of it is our own loopback
    traffic and /proc/PID/stat does not charge it to any process."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2], sum(v[:8])  # user nice system idle iowait irq softirq steal


def tree_ticks(roots):
    """utime+stime (jiffies, all threads) of the processes `roots` and their descendants."""
    stats = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2:].split()
        stats[int(d)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    kids = {}
    for pid, (ppid, _) in stats.items():
        kids.setdefault(ppid, []).append(pid)
    total, stack = 0, list(roots)
    while stack:
        pid = stack.pop()
        if pid in stats:
            total += stats[pid][1]
            stack.extend(kids.get(pid, []))
    return total


class OtherCpu:
    """Share of the machine's CPU time used by processes that are not ours (fiberlb, the
    backend NGINX, wrk, this script) between start() and stop(): other work on the machine
    (builds, tests) that makes a run noisy. In percent of all CPUs."""

    def __init__(self, roots):
        self.roots = roots

    def start(self):
        self.busy0, self.total0 = system_ticks()
        self.ours0 = tree_ticks(self.roots)
        self.self0 = sum(os.times()[:2])

    def stop(self, extra_cpu_sec=0.0):
        busy, total = system_ticks()
        ours = (tree_ticks(self.roots) - self.ours0) / CLK_TCK
        ours += sum(os.times()[:2]) - self.self0 + extra_cpu_sec
        other = (busy - self.busy0) / CLK_TCK - ours
        return round(max(0.0, other) / max(1e-9, (total - self.total0) / CLK_TCK) * 100, 1)


class Reloader(threading.Thread):
    """POSTs a reload every `every` seconds until stopped; keeps the wall times."""

    def __init__(self, lb, every):
        super().__init__(daemon=True)
        self.lb, self.every = lb, every
        self.stop_event = threading.Event()
        self.times, self.errors = [], []

    def run(self):
        nxt = time.monotonic() + self.every / 2
        while not self.stop_event.wait(max(0.0, nxt - time.monotonic())):
            try:
                self.times.append(self.lb.reload())
            except Exception as e:  # noqa: BLE001 - reported at the end
                self.errors.append(str(e))
            nxt += self.every


NOISY_PCT = 15  # other_cpu_pct from which a run is flagged


def load_runs(lb, work, roots):
    """ROUNDS x (one wrk run without reloads, one with), the order alternating by round.
    Returns {"runs": [...], "summary": {condition: medians}}."""
    url = f"http://127.0.0.1:{lb.lb_port}/"
    lua = os.path.join(BENCH, "lib", "stats.lua")
    lua = lua if os.path.exists(lua) else None
    if WARMUP > 0:
        run_wrk(url, WARMUP, lua)
    with_reloads = "reload_every_%gs" % RELOAD_EVERY
    runs = []
    for rnd in range(1, ROUNDS + 1):
        order = ["no_reload", with_reloads]
        if rnd % 2 == 0:
            order.reverse()
        for name in order:
            reloader = None
            cpu = OtherCpu(roots)
            cpu.start()
            if name != "no_reload":
                reloader = Reloader(lb, RELOAD_EVERY)
                reloader.start()
            log(f"round {rnd}/{ROUNDS}: wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s "
                f"--latency {url}  ({name})")
            try:
                out, wrk_cpu = run_wrk(url, DURATION, lua)
            finally:
                if reloader:
                    reloader.stop_event.set()
                    reloader.join()
            other = cpu.stop(wrk_cpu)
            with open(os.path.join(work, f"wrk-r{rnd}-{name}.txt"), "w") as f:
                f.write(out)
            r = parse_wrk(out)
            r.update(condition=name, round=rnd, other_cpu_pct=other)
            if reloader:
                r["reloads"] = len(reloader.times)
                r["reload_ms"] = stats_of(reloader.times) if reloader.times else None
                r["reload_errors"] = reloader.errors
            if other >= NOISY_PCT:
                log(f"warning: other processes used {other}% of the machine during this run; "
                    "its latency is not fiberlb's alone")
            if not lb.alive():
                raise RuntimeError(f"fiberlb died during {name}; last lines:\n{tail(lb.logpath)}")
            runs.append(r)
    summary = {}
    for name in ("no_reload", with_reloads):
        rs = [r for r in runs if r["condition"] == name]
        lat = {k: statistics.median(r["latency_us"][k] for r in rs)
               for k in rs[0]["latency_us"] if all(k in r["latency_us"] for r in rs)}
        errors = {k: sum(r["errors"].get(k, 0) for r in rs) for k in rs[0]["errors"]}
        summary[name] = {"runs": len(rs), "rps": statistics.median(r.get("rps", 0) for r in rs),
                         "latency_us": lat, "errors": errors,
                         "other_cpu_pct": max(r["other_cpu_pct"] for r in rs)}
        times = [t for r in rs for t in (r.get("reload_ms") or {}).get("all_ms", [])]
        if times:
            summary[name]["reloads"] = len(times)
            summary[name]["reload_ms"] = stats_of(times)
        summary[name]["reload_errors"] = [e for r in rs for e in r.get("reload_errors", [])]
    return {"runs": runs, "summary": summary}


# ----------------------------------------------------------------------------- report


def fmt_us(v):
    if v is None:
        return "-"
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} us"


def print_report(res):
    r = res["reload"]
    print(f"\nfiberlb reload, {res['params']['backends']} backends, workers = 1 "
          f"({res['machine']['nproc']} CPUs, load avg {res['machine']['loadavg_start']})")
    print(f"  POST /api/config/reload, {r['samples']} samples, idle: median {r['median_ms']:.1f} ms"
          f"  (min {r['min_ms']:.1f}, max {r['max_ms']:.1f}; other CPU {r['other_cpu_pct']:.0f}%)")
    print(f"  start-up to 'fiberlb ready' + admin API up: {res['startup_ms']:.0f} ms")
    if res.get("load"):
        load = res["load"]["summary"]
        names = list(load)
        rows = [("requests/s", lambda x: f"{x.get('rps', 0):,.0f}")]
        for p in ("p50", "p90", "p99", "p999", "max"):
            rows.append((p, lambda x, p=p: fmt_us(x["latency_us"].get(p))))
        rows.append(("non-2xx", lambda x: str(x["errors"].get("status", 0))))
        rows.append(("socket errors", lambda x: str(sum(v for k, v in x["errors"].items()
                                                        if k != "status"))))
        rows.append(("reloads done", lambda x: str(x.get("reloads", 0))))
        rows.append(("reload errors", lambda x: str(len(x.get("reload_errors", [])))))
        rows.append(("other CPU % (max)", lambda x: f"{x['other_cpu_pct']:.0f}%"))
        rows.append(("reload median (max)",
                     lambda x: (f"{x['reload_ms']['median_ms']:.1f} ms "
                                f"({x['reload_ms']['max_ms']:.1f})") if x.get("reload_ms")
                     else "-"))
        rounds = load[names[0]]["runs"]
        print(f"\n  wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s --latency"
              + (f", medians of {rounds} runs each" if rounds > 1 else ""))
        print(f"  {'':22}" + "".join(f"{n:>22}" for n in names))
        for label, f in rows:
            print(f"  {label:22}" + "".join(f"{f(load[n]):>22}" for n in names))
        noisy = [r for r in res["load"]["runs"] if r["other_cpu_pct"] >= NOISY_PCT]
        if noisy:
            print(f"  ! {len(noisy)} run(s) with other work using >= {NOISY_PCT}% of the machine: "
                  "noisy, compare with care")
    if res.get("sweep"):
        print("\n  reload time by backend count (idle, fresh fiberlb each):")
        print(f"  {'backends':>10} {'median ms':>10} {'min':>8} {'max':>8} {'start-up ms':>12}")
        for s in res["sweep"]:
            print(f"  {s['backends']:>10} {s['median_ms']:>10.1f} {s['min_ms']:>8.1f} "
                  f"{s['max_ms']:>8.1f} {s['startup_ms']:>12.0f}")
    print()


def machine():
    def version(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return None

    try:
        commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = None
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "loadavg_start": " ".join(open("/proc/loadavg").read().split()[:3]),
        "fiberlb": version([FIBERLB_BIN, "--version"]),
        "nginx": version(["nginx", "-v"]),
        "wrk": version(["wrk", "--version"]),
        "git_commit": commit,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


# ----------------------------------------------------------------------------- main


def main():
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return 0
    for tool in ("nginx",) + (() if NO_LOAD else ("wrk",)):
        if not shutil.which(tool):
            raise SetupError(f"{tool} not found (scripts/install-deps.sh bench installs it)")
    if not os.access(FIBERLB_BIN, os.X_OK):
        raise SetupError(f"FIBERLB_BIN={FIBERLB_BIN} is not an executable "
                         "(cmake --preset release && cmake --build build/release --target fiberlb)")
    procs = Procs()
    work = tempfile.mkdtemp(prefix="fiberlb-reload-")
    res = {"machine": machine(),
           "params": {"backends": BACKENDS, "samples": SAMPLES, "duration_s": DURATION,
                      "warmup_s": WARMUP, "connections": CONNECTIONS, "threads": THREADS,
                      "reload_every_s": RELOAD_EVERY, "rounds": ROUNDS, "sweep": SWEEP, "workers": 1,
                      "state_dir": STATE_DIR or "(work directory)",
                      "fiberlb_bin": FIBERLB_BIN}}
    ok = False
    try:
        # A private copy: a rebuild while we run cannot swap the binary under us.
        os.makedirs(os.path.join(work, "bin"))
        binary = os.path.join(work, "bin", "fiberlb")
        shutil.copy2(FIBERLB_BIN, binary)
        backend_port = free_port()
        log(f"backend: nginx on 127.0.0.1:{backend_port}; work dir {work}")
        backend = start_backend(procs, work, backend_port)

        lb = Fiberlb(procs, work, binary, backend_port, BACKENDS)
        res["startup_ms"] = round(lb.startup_ms, 1)
        log(f"fiberlb up ({BACKENDS} backends) in {lb.startup_ms:.0f} ms on "
            f"127.0.0.1:{lb.lb_port}, admin 127.0.0.1:{lb.admin_port}")
        lb.reload()  # the first reload warms caches; not counted
        lb.reload()
        cpu = OtherCpu([backend.pid, lb.proc.pid])
        cpu.start()
        times = measure_reloads(lb, SAMPLES)
        res["reload"] = stats_of(times)
        res["reload"]["other_cpu_pct"] = cpu.stop()
        res["reload"]["raced_with_file_watch"] = lb.raced
        log(f"reload median {res['reload']['median_ms']:.1f} ms over {SAMPLES}: "
            f"{', '.join(f'{t:.1f}' for t in times)}")
        if not NO_LOAD:
            raced = lb.raced
            res["load"] = load_runs(lb, work, [backend.pid, lb.proc.pid])
            res["load_raced_with_file_watch"] = lb.raced - raced
        lb.stop()

        if SWEEP:
            res["sweep"] = []
            for n in SWEEP:
                lbn = Fiberlb(procs, work, binary, backend_port, n)
                lbn.reload()
                s = stats_of(measure_reloads(lbn, SAMPLES))
                s.update(backends=n, startup_ms=round(lbn.startup_ms, 1),
                         raced_with_file_watch=lbn.raced)
                res["sweep"].append(s)
                log(f"sweep {n} backends: reload median {s['median_ms']:.1f} ms")
                lbn.stop()
        ok = True
    except KeyboardInterrupt:
        ok = True  # nothing to inspect
        raise
    finally:
        procs.stop_all()
        if ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept the work directory for inspection: {work}")

    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, "reload_time.json")
    write_atomically(out, json.dumps(res, indent=2) + "\n")
    print_report(res)
    log(f"wrote {out}")
    return 0


def on_sigterm(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    # Also SIGINT: a shell starting us in the background may have it ignored.
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, on_sigterm)
    try:
        sys.exit(main())
    except SetupError as e:
        print(f"reload_time: setup failed: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\nreload_time: interrupted", file=sys.stderr)
        sys.exit(130)
