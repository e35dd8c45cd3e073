"""Helpers for the benchmarks in this folder: free ports, the simulator, HTTP, peak RSS."""
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "target", "release", "sightline")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def get(url, timeout=600):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def post(url, body=b""):
    req = urllib.request.Request(url, data=body, method="POST")
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.read().decode()


def start_simulator(*args):
    """Starts `sightline simulate` on a free port; returns (process, url, seconds to answer)."""
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([BIN, "simulate", "--listen", f"127.0.0.1:{port}", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(6000):
        try:
            get(url + "/_sim/faults", timeout=5)
            return proc, url, time.monotonic() - started
        except OSError:
            if proc.poll() is not None:
                sys.exit(f"the simulator exited with {proc.returncode}")
            time.sleep(0.1)
    sys.exit("the simulator did not answer")


def peak_rss_mib(pid):
    """VmHWM of a running process, in MiB."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB"


def dumps(x):
    return json.dumps(x, indent=1)


def psql(url, sql):
    """One statement through psql; its output without the trailing newline."""
    out = subprocess.run(["psql", url, "-XAtqc", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        sys.exit("error: wrk is not installed: apt-get install wrk")
    print("installing wrk (apt-get install wrk)", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=subprocess.DEVNULL)


def start_serve(tmp, db, regions, approved_regions, accounts):
    """Writes a config for `accounts` ((id, name, environment, owner) rows) in `tmp`, creates an
    API token on `db` and starts `sightline serve --no-poller` on a free port. Returns the
    process, its log file (serve.log in `tmp`), the base URL, the token's name and the token."""
    port = free_port()
    cfg = os.path.join(tmp, "sightline.toml")
    with open(cfg, "w") as f:
        f.write(f'listen = "127.0.0.1:{port}"\n\n[aws]\n')
        f.write(f"regions = {json.dumps(regions)}\n")
        f.write(f"approved_regions = {json.dumps(approved_regions)}\n")
        f.write('role_name = "SightlineReadOnly"\n')
        # The poller is not run: no AWS call is made.
        f.write('endpoint_url = "http://127.0.0.1:9"\n\n')
        for id_, name, env, owner in accounts:
            f.write(f"[[accounts]]\nid = {json.dumps(id_)}\nname = {json.dumps(name)}\n"
                    f"environment = {json.dumps(env)}\nowner = {json.dumps(owner)}\n\n")
    env = dict(os.environ, DATABASE_URL=db, RUST_LOG="warn")
    token_name = f"bench-{int(time.time())}"
    out = subprocess.run([BIN, "token", "create", "--name", token_name], env=env, check=True,
                         capture_output=True, text=True)
    token = out.stdout.strip().splitlines()[-1].strip()
    serve_log = open(os.path.join(tmp, "serve.log"), "w")
    serve = subprocess.Popen([BIN, "--config", cfg, "serve", "--no-poller"], env=env,
                             stdout=serve_log, stderr=subprocess.STDOUT)
    return serve, serve_log, f"http://127.0.0.1:{port}", token_name, token


# wrk's report: one line, `WRK {json}`, with the latency percentiles, the responses other than
# 200 (and their codes) and the socket errors.
WRK_LUA = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  statuses = {}
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local other, codes = 0, ""
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do
      if code ~= 200 then
        other = other + n
        codes = codes .. string.format(" %d x HTTP %d", n, code)
      end
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "non_200": %d, "codes": "%s", "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, other, codes,
    e.connect + e.read + e.write + e.timeout))
end
"""


def wrk_script(tmp):
    """Writes WRK_LUA into `tmp`; returns its path, for `wrk`."""
    path = os.path.join(tmp, "report.lua")
    with open(path, "w") as f:
        f.write(WRK_LUA)
    return path


def wrk(script, url, connections, seconds, headers=()):
    """Runs wrk (closed loop, at most 2 threads) with `script` on `url`; returns its report."""
    cmd = ["wrk", "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s",
           "--timeout", "60s", "-s", script]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if l.startswith("WRK "))
    return json.loads(line[4:])
