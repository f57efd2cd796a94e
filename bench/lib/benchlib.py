#!/usr/bin/env python3
"""Measurement and reporting helpers for bench/run.sh (Python 3 standard library only).

Subcommands:
  probe URL                 one GET; exit 0 when the status is 200 (used after start-up)
  measure ... -- WRK ARGS   run wrk once and append one JSON record to a runs file:
                            wrk's numbers plus the proxy's CPU time (utime+stime from
                            /proc/PID/stat, whole process tree) and peak RSS (VmHWM)
  idle ...                  open N idle keep-alive connections through a target and record
                            the proxy's memory (for the idle-connections scenario)
  report ...                medians, ratios to HAProxy, the table, latest.json, latest.png

bash owns the processes (start, readiness, stop); this file only observes and computes.
"""
import argparse
import datetime
import json
import os
import platform
import resource
import selectors
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# ----------------------------------------------------------------------------- /proc


def read_stat(pid):
    """(comm, ppid, utime+stime ticks) of one process; all of its threads included."""
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    rp = data.rindex(")")  # comm may contain spaces and parentheses
    comm = data[data.index("(") + 1 : rp]
    fields = data[rp + 2 :].split()
    # fields[0] is field 3 (state): ppid = field 4, utime = field 14, stime = field 15.
    return comm, int(fields[1]), int(fields[11]) + int(fields[12])


def read_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def process_tree(root):
    """root and all of its descendants (nginx: master and workers)."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            _, ppid, _ = read_stat(d)
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, stack = [], [root]
    while stack:
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, []))
    return out


def snapshot(root):
    """{pid: {comm, ticks, hwm_kb, rss_kb, root}} for the tree under root (empty if root=0)."""
    procs = {}
    if not root:
        return procs
    for pid in process_tree(root):
        try:
            comm, _, ticks = read_stat(pid)
            procs[pid] = {
                "comm": comm,
                "ticks": ticks,
                "hwm_kb": read_status_kb(pid, "VmHWM"),
                "rss_kb": read_status_kb(pid, "VmRSS"),
                "root": pid == root,
            }
        except (OSError, ValueError):
            continue
    return procs


def tree_ticks_delta(before, after):
    """CPU ticks the tree used between two snapshots (processes born in between count fully)."""
    return sum(p["ticks"] - before.get(pid, {"ticks": 0})["ticks"] for pid, p in after.items())


def serving_procs(procs):
    """The processes that hold the connections: the root if it has no children, else the
    children (NGINX's master only supervises; its worker does the work)."""
    kids = [p for p in procs.values() if not p["root"]]
    return kids or list(procs.values())


def system_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest is already inside user)
    return {"busy": v[0] + v[1] + v[2], "irq": v[5] + v[6], "steal": v[7], "total": sum(v[:8])}


# ----------------------------------------------------------------------------- probe


def cmd_probe(args):
    ctx = ssl._create_unverified_context()  # self-signed bench certificate
    deadline = time.monotonic() + args.timeout
    last = None
    while True:
        try:
            with urllib.request.urlopen(args.url, timeout=2, context=ctx) as r:
                body = r.read()
                if r.status == 200:
                    print(f"probe {args.url}: 200, {len(body)} bytes")
                    return 0
                last = f"status {r.status}"
        except Exception as e:  # HTTPError, URLError, reset: retry until the deadline
            last = repr(e)
        if time.monotonic() > deadline:
            print(f"probe {args.url}: no 200 within {args.timeout}s (last: {last})", file=sys.stderr)
            return 1
        time.sleep(0.1)


# ----------------------------------------------------------------------------- measure


def run_wrk(cmd):
    """Run wrk, return (exit code, output, CPU seconds wrk used)."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
    except KeyboardInterrupt:
        p.kill()
        p.wait()
        raise
    p.returncode = os.waitstatus_to_exitcode(status)
    return p.returncode, out, ru.ru_utime + ru.ru_stime


def parse_wrk(out):
    for line in out.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON ") :])
    return None


def cmd_measure(args):
    wrk_cmd = args.wrk
    if wrk_cmd and wrk_cmd[0] == "--":
        wrk_cmd = wrk_cmd[1:]
    proxy0, backend0, sys0 = snapshot(args.proxy_pid), snapshot(args.backend_pid), system_ticks()
    t0 = time.monotonic()
    rc, out, wrk_cpu_s = run_wrk(wrk_cmd)
    elapsed = time.monotonic() - t0
    proxy1, backend1, sys1 = snapshot(args.proxy_pid), snapshot(args.backend_pid), system_ticks()
    if args.log:
        with open(args.log, "a") as f:
            f.write("$ " + " ".join(wrk_cmd) + "\n" + out)
    w = parse_wrk(out)
    if rc != 0 or w is None:
        sys.stderr.write(out)
        print(f"measure: wrk failed (exit {rc})", file=sys.stderr)
        return 1

    n = w["requests"]
    e = w["errors"]
    us_per_tick = 1e6 / CLK_TCK
    rec = {
        "target": args.target,
        "scenario": args.scenario,
        "round": args.round,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "requests": n,
        "duration_s": w["duration_us"] / 1e6,
        "rps": n / (w["duration_us"] / 1e6) if w["duration_us"] else 0.0,
        "bytes": w["bytes"],
        "p50_ms": w["latency_us"]["p50"] / 1000,
        "p90_ms": w["latency_us"]["p90"] / 1000,
        "p99_ms": w["latency_us"]["p99"] / 1000,
        "p999_ms": w["latency_us"]["p999"] / 1000,
        "max_ms": w["latency_us"]["max"] / 1000,
        "errors": e,
        "socket_errors": e["connect"] + e["read"] + e["write"] + e["timeout"],
        "non2xx": e["status"],  # wrk counts status >= 400 here
        "wrk_cpu_pct": 100 * wrk_cpu_s / elapsed,
    }
    if args.proxy_pid:
        ticks = tree_ticks_delta(proxy0, proxy1)
        serving = serving_procs(proxy1)
        rec["proxy_cpu_us_per_req"] = ticks * us_per_tick / n if n else None
        rec["proxy_cpu_pct"] = 100 * ticks / CLK_TCK / elapsed
        rec["peak_rss_kb"] = sum(p["hwm_kb"] for p in serving)
        rec["tree_peak_rss_kb"] = sum(p["hwm_kb"] for p in proxy1.values())
        rec["proxy_procs"] = [
            {"pid": pid, "comm": p["comm"], "hwm_kb": p["hwm_kb"], "cpu_ticks": p["ticks"]}
            for pid, p in sorted(proxy1.items())
        ]
    else:
        rec["proxy_cpu_us_per_req"] = rec["proxy_cpu_pct"] = rec["peak_rss_kb"] = None
    bticks = tree_ticks_delta(backend0, backend1)
    rec["backend_cpu_us_per_req"] = bticks * us_per_tick / n if n else None
    # Everything else the machine did meanwhile (other builds, other benches): a noise gauge.
    ncpu = os.cpu_count() or 1
    total = max(sys1["total"] - sys0["total"], 1)
    ours = (tree_ticks_delta(proxy0, proxy1) if args.proxy_pid else 0) + bticks + wrk_cpu_s * CLK_TCK
    rec["other_cpu_pct"] = max(0.0, 100 * (sys1["busy"] - sys0["busy"] - ours) / total)
    rec["steal_pct"] = 100 * (sys1["steal"] - sys0["steal"]) / total
    rec["machine_busy_pct"] = 100 * (sys1["busy"] + sys1["irq"] - sys0["busy"] - sys0["irq"]) / total
    rec["ncpu"] = ncpu
    with open(args.append, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(one_line(rec))
    return 0


def one_line(r):
    if r.get("idle_conns") is not None:
        s = f"{r['idle_conns']} idle conns held, {r.get('still_open')} still open"
        if r.get("rss_kb") is not None:
            s += f"  rss {r['rss_before_kb'] / 1024:.1f} -> {r['rss_kb'] / 1024:.1f} MiB"
        if r.get("kb_per_conn") is not None:
            s += f"  ({r['kb_per_conn']:.2f} KiB/conn)"
    else:
        s = f"{r['rps']:>10,.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms"
        if r.get("proxy_cpu_us_per_req") is not None:
            s += f"  cpu {r['proxy_cpu_us_per_req']:.1f} us/req  rss {r['peak_rss_kb'] / 1024:.1f} MiB"
    errs = r.get("socket_errors", 0) + r.get("non2xx", 0)
    s += f"  errors {errs}" + (" <-- !" if errs else "")
    s += f"  [other load {r['other_cpu_pct']:.0f}%]" if r.get("other_cpu_pct", 0) >= 10 else ""
    return s


# ----------------------------------------------------------------------------- idle


def cmd_idle(args):
    """Open N keep-alive connections, complete one request on each, hold them all open and
    measure the proxy's memory growth: memory per idle connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.conns + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    ctx = None
    if args.tls:
        ctx = ssl._create_unverified_context()
    base = snapshot(args.proxy_pid)
    base_rss = sum(p["rss_kb"] for p in serving_procs(base)) if base else 0
    req = f"GET {args.path} HTTP/1.1\r\nHost: {args.host}\r\n\r\n".encode()
    sel = selectors.DefaultSelector()
    socks, done_ok, errors = [], 0, 0
    t0 = time.monotonic()
    pending = {}
    # Open in batches so the listen backlog never overflows.
    for i in range(args.conns):
        try:
            s = socket.create_connection((args.host, args.port), timeout=5)
            if ctx:
                s = ctx.wrap_socket(s, server_hostname="localhost")
            s.sendall(req)
            s.setblocking(False)
            socks.append(s)
            pending[s] = b""
            sel.register(s, selectors.EVENT_READ)
        except OSError:
            errors += 1
        if len(pending) >= 256 or i == args.conns - 1:
            deadline = time.monotonic() + 10
            while pending and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=0.5):
                    s = key.fileobj
                    try:
                        chunk = s.recv(65536)
                    except (ssl.SSLWantReadError, BlockingIOError):
                        continue
                    except OSError:
                        chunk = b""
                    if not chunk:
                        errors += 1
                        sel.unregister(s)
                        pending.pop(s, None)
                        continue
                    pending[s] += chunk
                    head, sep, body = pending[s].partition(b"\r\n\r\n")
                    if sep:
                        clen = 0
                        for line in head.split(b"\r\n")[1:]:
                            k, _, v = line.partition(b":")
                            if k.strip().lower() == b"content-length":
                                clen = int(v)
                        if len(body) >= clen:
                            ok = head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200")
                            done_ok += ok
                            errors += not ok
                            sel.unregister(s)
                            del pending[s]
            errors += len(pending)
            for s in list(pending):
                sel.unregister(s)
            pending.clear()
    open_s = time.monotonic() - t0
    time.sleep(args.settle)
    snap = snapshot(args.proxy_pid)
    alive = 0
    for s in socks:  # a connection the proxy closed reads EOF now
        try:
            alive += s.recv(1, socket.MSG_PEEK) != b""
        except (BlockingIOError, ssl.SSLWantReadError):
            alive += 1
        except OSError:
            pass
    rss = sum(p["rss_kb"] for p in serving_procs(snap)) if snap else None
    rec = {
        "target": args.target,
        "scenario": args.scenario,
        "round": args.round,
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "idle_conns": done_ok,
        "still_open": alive,
        "open_s": open_s,
        "rps": None,
        "p50_ms": None,
        "p99_ms": None,
        "socket_errors": errors,
        "non2xx": 0,
        "proxy_cpu_us_per_req": None,
        "rss_before_kb": base_rss if snap else None,
        "rss_kb": rss,
        "peak_rss_kb": sum(p["hwm_kb"] for p in serving_procs(snap)) if snap else None,
        "kb_per_conn": (rss - base_rss) / done_ok if snap and done_ok else None,
        "other_cpu_pct": 0.0,
    }
    for s in socks:
        s.close()
    with open(args.append, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(one_line(rec))
    return 0


# ----------------------------------------------------------------------------- report


def version_of(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=5)
        text = (p.stdout + p.stderr).strip().splitlines()
        return text[0] if text else None
    except (OSError, subprocess.SubprocessError):
        return None


def read_loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[:3]


def machine_info(fiberlb_bin):
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = None
    try:
        with open("/proc/meminfo") as f:
            mem_kb = int(f.readline().split()[1])
    except OSError:
        pass
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    git = version_of(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    dirty = version_of(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": platform.node(),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_total_mib": mem_kb // 1024 if mem_kb else None,
        "kernel": platform.release(),
        "os": version_of(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "loadavg_at_report": read_loadavg(),
        "versions": {
            "haproxy": version_of(["haproxy", "-v"]),
            "nginx": version_of(["nginx", "-v"]),
            "wrk": version_of(["wrk", "-v"]),
            "fiberlb": version_of([fiberlb_bin, "--version"]) if fiberlb_bin else None,
            "python": platform.python_version(),
        },
        "git_commit": (git or "") + ("-dirty" if dirty else ""),
    }


METRICS = ["rps", "p50_ms", "p99_ms", "proxy_cpu_us_per_req", "peak_rss_kb", "kb_per_conn"]


def med(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarise(runs, scenarios, targets):
    out = {}
    for sc in scenarios:
        out[sc] = {}
        for t in targets:
            rs = [r for r in runs if r["scenario"] == sc and r["target"] == t]
            if not rs:
                continue
            m = {k: med(r.get(k) for r in rs) for k in METRICS}
            m["runs"] = len(rs)
            m["socket_errors"] = sum(r.get("socket_errors", 0) for r in rs)
            m["non2xx"] = sum(r.get("non2xx", 0) for r in rs)
            rps = [r["rps"] for r in rs if r.get("rps") is not None]
            m["rps_spread_pct"] = (
                100 * (max(rps) - min(rps)) / m["rps"] if len(rps) > 1 and m["rps"] else None
            )
            m["other_cpu_pct_max"] = max(r.get("other_cpu_pct", 0) for r in rs)
            out[sc][t] = m
        ref = out[sc].get("haproxy")
        for t, m in out[sc].items():
            m["vs_haproxy"] = {
                k: (m[k] / ref[k] if ref and m[k] is not None and ref.get(k) else None)
                for k in METRICS
            }
    return out


def fmt(v, spec, ratio=None):
    if v is None:
        return "-"
    s = format(v, spec)
    if ratio is not None:
        s += f" ({ratio:.2f}x)"
    return s


def print_table(summary, params):
    print()
    print(
        f"fiberlb bench: medians of {params.get('rounds')} round(s) x {params.get('duration')} s, "
        f"wrk -t{params.get('threads')} -c{params.get('connections')}; (ratio to HAProxy)"
    )
    cols = [
        ("scenario", 12), ("target", 8), ("req/s", 17), ("spread", 7), ("p50 ms", 14),
        ("p99 ms", 14), ("CPU us/req", 20), ("peak RSS MiB", 14), ("errors", 7),
    ]
    head = " ".join(f"{n:<{w}}" if i < 2 else f"{n:>{w}}" for i, (n, w) in enumerate(cols))
    print(head)
    print("-" * len(head))
    for sc, per_t in summary.items():
        for t, m in per_t.items():
            r = m["vs_haproxy"]
            if m["rps"] is None:
                # idle-connections scenario: memory only (KiB per idle connection, RSS held)
                cells = [sc, t, "-", "", "", "",
                         fmt(m["kb_per_conn"], ".2f", r["kb_per_conn"]) + " KiB/c",
                         fmt(m["peak_rss_kb"] / 1024 if m["peak_rss_kb"] else None, ".1f",
                             r["peak_rss_kb"]),
                         str(m["socket_errors"] + m["non2xx"])]
            else:
                cells = [
                    sc, t,
                    fmt(m["rps"], ",.0f", r["rps"]),
                    fmt(m["rps_spread_pct"], ".0f") + ("%" if m["rps_spread_pct"] is not None else ""),
                    fmt(m["p50_ms"], ".2f", r["p50_ms"]),
                    fmt(m["p99_ms"], ".2f", r["p99_ms"]),
                    fmt(m["proxy_cpu_us_per_req"], ".1f", r["proxy_cpu_us_per_req"]),
                    fmt(m["peak_rss_kb"] / 1024 if m["peak_rss_kb"] else None, ".1f", r["peak_rss_kb"]),
                    str(m["socket_errors"] + m["non2xx"]),
                ]
            print(" ".join(f"{c:<{w}}" if i < 2 else f"{c:>{w}}" for i, (c, (_, w)) in enumerate(zip(cells, cols))))
    print()
    print("spread = (max-min)/median of req/s over the rounds; errors = socket errors + HTTP >= 400,")
    print("summed over all runs; direct = wrk straight to one backend (no proxy, so no CPU/RSS);")
    print("idle rows: RSS growth per idle keep-alive connection (KiB/c) and the RSS held.")


def chart(summary, targets, png, workdir):
    gp = shutil.which("gnuplot")
    if not gp:
        print("report: gnuplot not found, no PNG chart (scripts/install-deps.sh bench installs it)",
              file=sys.stderr)
        return None
    scen = [sc for sc in summary if any(m.get("rps") for m in summary[sc].values())]
    if not scen:
        return None
    dat = os.path.join(workdir, "chart.dat")
    with open(dat, "w") as f:
        f.write("# scenario " + " ".join(targets) + " (req/s), then CPU us/req\n")
        for sc in scen:
            row = [sc]
            for t in targets:
                m = summary[sc].get(t)
                row.append(f"{m['rps']:.0f}" if m and m.get("rps") else "-")
            for t in targets:
                m = summary[sc].get(t)
                v = m.get("proxy_cpu_us_per_req") if m else None
                row.append(f"{v:.2f}" if v is not None else "-")
            f.write(" ".join(row) + "\n")
    n = len(targets)
    colors = {"direct": "#999999", "fiberlb": "#d9534f", "haproxy": "#2a9d8f", "nginx": "#457b9d"}

    def lc(t):
        return f"lc rgb '{colors.get(t, '#e9c46a')}'"

    plot1 = ", ".join(
        f"'{dat}' using {i + 2}:xtic(1) title '{t}' {lc(t)}" for i, t in enumerate(targets))
    plot2 = ", ".join(
        f"'{dat}' using {n + i + 2}:xtic(1) title '{t}' {lc(t)}"
        for i, t in enumerate(targets) if t != "direct")
    script = f"""
set terminal pngcairo size 1200,480 font ",10"
set output '{png}'
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
set grid ytics
set yrange [0:*]
set multiplot layout 1,2 title "fiberlb vs HAProxy vs NGINX (medians; loopback, 2 cores shared)"
set title "requests/s (higher is better)"
set format y "%.0s%c"
plot {plot1}
set title "proxy CPU microseconds per request (lower is better)"
set format y "%g"
plot {plot2}
unset multiplot
"""
    gp_file = os.path.join(workdir, "chart.gp")
    with open(gp_file, "w") as f:
        f.write(script)
    p = subprocess.run([gp, gp_file], capture_output=True, text=True)
    if p.returncode != 0:
        print("report: gnuplot failed:\n" + p.stderr, file=sys.stderr)
        return None
    return png


def read_configs(d):
    """The generated config of every target for every scenario, for reproducibility."""
    out = {}
    if not d or not os.path.isdir(d):
        return out
    for name in sorted(os.listdir(d)):
        sc, _, rest = name.partition(".")
        t = rest.rsplit(".", 1)[0]
        with open(os.path.join(d, name)) as f:
            out.setdefault(sc, {})[t] = f.read()
    return out


def cmd_report(args):
    runs = []
    with open(args.runs) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    params = dict(kv.split("=", 1) for kv in args.param)
    scenarios = params.get("scenarios", "").split() or sorted({r["scenario"] for r in runs})
    targets = params.get("targets", "").split() or sorted({r["target"] for r in runs})
    summary = summarise(runs, scenarios, targets)
    print_table(summary, params)

    warnings = []
    for r in runs:
        errs = r.get("socket_errors", 0) + r.get("non2xx", 0)
        if errs:
            warnings.append(
                f"{r['scenario']}/{r['target']} round {r['round']}: {r.get('socket_errors', 0)} socket "
                f"errors {r.get('errors', {})}, {r.get('non2xx', 0)} HTTP >= 400")
    noisy = [r for r in runs if r.get("other_cpu_pct", 0) >= 15]
    if noisy:
        worst = max(noisy, key=lambda r: r["other_cpu_pct"])
        warnings.append(
            f"{len(noisy)} of {len(runs)} runs shared the machine with other work using >= 15% of "
            f"its CPU (worst: {worst['other_cpu_pct']:.0f}%, {worst['scenario']}/{worst['target']} "
            f"round {worst['round']}); req/s and latency are noisy, CPU us/req much less so")
    stolen = [r for r in runs if r.get("steal_pct", 0) >= 5]
    if stolen:
        warnings.append(f"{len(stolen)} runs lost >= 5% CPU to steal (the hypervisor)")
    spread = [
        f"{sc}/{t} {m['rps_spread_pct']:.0f}%"
        for sc, per_t in summary.items() for t, m in per_t.items()
        if m.get("rps_spread_pct") is not None and m["rps_spread_pct"] > 15
    ]
    if spread:
        warnings.append("req/s varied by more than 15% between rounds: " + ", ".join(spread))

    out = {
        "schema": 1,
        "machine": machine_info(params.get("fiberlb_bin")),
        "params": params,
        "medians": summary,
        "warnings": warnings,
        "runs": runs,
        "configs": read_configs(args.configs),
    }
    png = None
    if args.png:
        png = chart(summary, targets, args.png, os.path.dirname(args.runs))
        out["chart"] = os.path.basename(png) if png else None
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    os.replace(tmp, args.out)
    if warnings:
        print("\nWARNINGS:", file=sys.stderr)
        for w in warnings:
            print("  ! " + w, file=sys.stderr)
    print(f"\nwrote {args.out}" + (f" and {png}" if png else ""))
    return 0


# ----------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("probe")
    p.add_argument("url")
    p.add_argument("--timeout", type=float, default=5)
    p.set_defaults(func=cmd_probe)

    for name, func in (("measure", cmd_measure), ("idle", cmd_idle)):
        p = sub.add_parser(name)
        p.add_argument("--target", required=True)
        p.add_argument("--scenario", required=True)
        p.add_argument("--round", type=int, required=True)
        p.add_argument("--proxy-pid", type=int, default=0)
        p.add_argument("--append", required=True, help="runs file (JSON lines) to append to")
        p.set_defaults(func=func)
        if name == "measure":
            p.add_argument("--backend-pid", type=int, default=0)
            p.add_argument("--log")
            p.add_argument("wrk", nargs=argparse.REMAINDER)
        else:
            p.add_argument("--host", default="127.0.0.1")
            p.add_argument("--port", type=int, required=True)
            p.add_argument("--path", default="/")
            p.add_argument("--tls", action="store_true")
            p.add_argument("--conns", type=int, default=10000)
            p.add_argument("--settle", type=float, default=1.0)

    p = sub.add_parser("report")
    p.add_argument("--runs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--png")
    p.add_argument("--configs", help="directory of <scenario>.<target>.conf to embed")
    p.add_argument("--param", action="append", default=[], help="key=value recorded in the JSON")
    p.set_defaults(func=cmd_report)

    args = ap.parse_args()
    try:
        sys.exit(args.func(args))
    except KeyboardInterrupt:
        # Die of SIGINT (not exit 1) so that the calling shell knows it was interrupted.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


if __name__ == "__main__":
    main()
