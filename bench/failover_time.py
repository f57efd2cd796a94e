#!/usr/bin/env python3
"""Failover time: how long fiberlb takes to move the active region away from a region whose
backends all died (SPEC §4: at most one health interval x unhealthy_threshold + 1 s).

Builds nothing. Runs the fiberlb binary in $FIBERLB_BIN (default build/release/src/fiberlb)
against real HTTP backends (http.server, in threads, on 127.0.0.1) in two regions, with
health checks every 0.2 s and unhealthy_threshold 2. Then, SAMPLES times: stops the active
region's backends (their listening sockets close, so connects are refused), polls
GET /api/geo/active-region every 5 ms and records the milliseconds from the stop to the
switch; then restarts the backends on the same ports, waits until their region is online
again and switches back with PUT /api/geo/active-region.

Prints every sample and the median. Exit status 1 when a sample exceeds the bound
(interval x fall + 1000 ms) or no switch happened, 2 when the setup fails.

Environment: FIBERLB_BIN, SAMPLES (10), INTERVAL_SEC (0.2), UNHEALTHY_THRESHOLD (2).
Python 3 standard library only.
"""

import http.client
import http.server
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIBERLB_BIN = os.path.abspath(
    os.environ.get("FIBERLB_BIN", os.path.join(REPO, "build/release/src/fiberlb")))
SAMPLES = int(os.environ.get("SAMPLES", "10"))
INTERVAL_SEC = float(os.environ.get("INTERVAL_SEC", "0.2"))
FALL = int(os.environ.get("UNHEALTHY_THRESHOLD", "2"))
BOUND_MS = INTERVAL_SEC * FALL * 1000 + 1000
POLL_SEC = 0.005
SWITCH_TIMEOUT_SEC = 10
STARTUP_TIMEOUT_SEC = 20

REGIONS = [
    # id, latitude, longitude, priority
    ("ap-northeast-1", 35.68, 139.69, 1),
    ("us-east-1", 39.04, -77.49, 2),
]
BACKENDS_PER_REGION = 2


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A health check may close as soon as it has read the status line.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Backend:
    """An HTTP server on 127.0.0.1 that can be stopped (connects refused) and restarted on
    the same port."""

    def __init__(self, port=0):
        self.port = port
        self.server = None
        self.thread = None
        self.start()

    def start(self):
        server = Server(("127.0.0.1", self.port), Handler)
        self.port = server.server_address[1]
        self.server = server
        self.thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def stop(self):
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()  # the listening socket is closed: connects are refused
        self.thread.join()
        self.server = None


class Fiberlb:
    def __init__(self, config_text, workdir):
        self.lines = []
        self.cond = threading.Condition()
        config_path = os.path.join(workdir, "fiberlb.toml")
        with open(config_path, "w") as f:
            f.write(config_text)
        self.proc = subprocess.Popen(
            [FIBERLB_BIN, "--config", config_path, "--log-level", "info"], cwd=workdir,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env={k: v for k, v in os.environ.items() if not k.startswith("PHOTON")},
            start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.lines.append(None)  # end of output
            self.cond.notify_all()

    def wait_line(self, needle, timeout):
        deadline = time.monotonic() + timeout
        seen = 0
        with self.cond:
            while True:
                while seen < len(self.lines):
                    line = self.lines[seen]
                    seen += 1
                    if line is None:
                        return None
                    if needle in line:
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def output(self):
        with self.cond:
            return "\n".join(l for l in self.lines if l is not None)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(timeout=5)


class Admin:
    def __init__(self, port):
        self.port = port

    def call(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            headers = {}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        finally:
            conn.close()

    def json(self, path):
        status, text = self.call("GET", path)
        if status != 200:
            raise RuntimeError("GET %s: %d %s" % (path, status, text))
        return json.loads(text)

    def active_region(self):
        return self.json("/api/geo/active-region").get("region_id")

    def region_status(self, region):
        return self.json("/api/geo/status")["regions"][region]["status"]


def render_config(backends, state_file):
    out = [
        "[standalone.server]",
        "workers = 1",
        'admin_api_addr = "127.0.0.1:0"',
        "shutdown_grace_sec = 5",
        "state_file = %s" % json.dumps(state_file),
        "",
        "[[standalone.loadbalancers]]",
        'name = "web"',
        'vip = "127.0.0.1"',
        "port = 0",
        'protocol = "http"',
        'method = "roundrobin"',
    ]
    for region, _, _, _ in REGIONS:
        for i, b in enumerate(backends[region], 1):
            out += [
                "[[standalone.loadbalancers.backends]]",
                'name = "%s-%d"' % (region, i),
                'address = "127.0.0.1"',
                "port = %d" % b.port,
                'region = "%s"' % region,
            ]
    out += [
        "[standalone.loadbalancers.healthcheck]",
        'type = "http"',
        "interval_sec = %s" % INTERVAL_SEC,
        "timeout_sec = 1",
        'path = "/health"',
        "healthy_threshold = 2",
        "unhealthy_threshold = %d" % FALL,
        "",
        "[geo]",
        "auto_failover = true",
        'failback = "manual"',
    ]
    for region, lat, lon, prio in REGIONS:
        out += [
            "[[geo.regions]]",
            'id = "%s"' % region,
            "latitude = %s" % lat,
            "longitude = %s" % lon,
            "priority = %d" % prio,
        ]
    return "\n".join(out) + "\n"


def wait_until(predicate, timeout, interval=POLL_SEC):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return True
        except (OSError, RuntimeError, ValueError, KeyError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def measure(admin, backends):
    """One sample: ms from the stop of the active region's backends to the switch, or None."""
    failed = admin.active_region()
    others = [r for r, _, _, _ in REGIONS if r != failed]
    for b in backends[failed]:
        b.stop()
    stopped = time.monotonic()
    switched = wait_until(lambda: admin.active_region() in others, SWITCH_TIMEOUT_SEC)
    elapsed_ms = (time.monotonic() - stopped) * 1000
    # Restore: the same ports again, the region online, then switch back.
    for b in backends[failed]:
        b.start()
    if not wait_until(lambda: admin.region_status(failed) == "online", 15, 0.02):
        raise RuntimeError("region %s did not come back online" % failed)
    status, text = admin.call("PUT", "/api/geo/active-region", {"region_id": failed})
    if status != 200:
        raise RuntimeError("PUT /api/geo/active-region: %d %s" % (status, text))
    if not wait_until(lambda: admin.active_region() == failed, 5):
        raise RuntimeError("could not switch back to %s" % failed)
    return elapsed_ms if switched else None


def main():
    if not os.access(FIBERLB_BIN, os.X_OK):
        log("fiberlb binary not found: %s (build it, or set FIBERLB_BIN)" % FIBERLB_BIN)
        return 2
    backends = {r: [Backend() for _ in range(BACKENDS_PER_REGION)] for r, _, _, _ in REGIONS}
    workdir = tempfile.mkdtemp(prefix="fiberlb-failover-")
    lb = Fiberlb(render_config(backends, os.path.join(workdir, "state.json")), workdir)
    try:
        if lb.wait_line("fiberlb ready", STARTUP_TIMEOUT_SEC) is None:
            log("fiberlb did not become ready; output:\n" + lb.output())
            return 2
        line = lb.wait_line("admin API listening addr=", 1)
        if line is None:
            log("no 'admin API listening addr=' line; output:\n" + lb.output())
            return 2
        addr = line.split("admin API listening addr=", 1)[1].split()[0]
        admin = Admin(int(addr.rsplit(":", 1)[1]))
        preferred = REGIONS[0][0]
        if not wait_until(lambda: admin.active_region() == preferred, 5):
            log("active region is not %s at start" % preferred)
            return 2

        print("failover time, interval_sec=%s unhealthy_threshold=%d, bound %.0f ms"
              % (INTERVAL_SEC, FALL, BOUND_MS))
        samples = []
        for i in range(SAMPLES):
            ms = measure(admin, backends)
            samples.append(ms)
            print("sample %2d: %s" % (i + 1, "no switch within %d s" % SWITCH_TIMEOUT_SEC
                                       if ms is None else "%.0f ms" % ms), flush=True)
        measured = [s for s in samples if s is not None]
        if measured:
            print("median: %.0f ms  (min %.0f, max %.0f, n=%d)"
                  % (statistics.median(measured), min(measured), max(measured), len(measured)))
        bad = [s for s in samples if s is None or s > BOUND_MS]
        if bad:
            print("FAIL: %d of %d samples over %.0f ms" % (len(bad), len(samples), BOUND_MS))
            return 1
        print("OK: every sample within %.0f ms" % BOUND_MS)
        return 0
    except (OSError, RuntimeError, ValueError, KeyError) as e:
        log("error: %s\nfiberlb output:\n%s" % (e, lb.output()))
        return 2
    finally:
        lb.stop()
        for region in backends.values():
            for b in region:
                b.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
