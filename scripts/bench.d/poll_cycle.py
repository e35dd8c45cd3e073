"""One full poll cycle of a simulated organisation with the simulator's rate limits on, against
the lower bound those limits imply, and the poller's peak memory (issue 4).

The bound: the busiest (account, region, operation)'s requests divided by its allowed rate
(Security Hub GetFindings 3/s, the rest 10/s), as the issue defines it; also shown with the
bursts (6 and 30 requests) taken off first.

With --delegated-admin the simulator's security-tooling account administers the five services
and Sightline reads every finding through it (one target per region and source).

Needs DATABASE_URL (scripts/bench provides one). Usage:
  python3 scripts/bench.d/poll_cycle.py [--accounts 100] [--regions 4] [--findings-per-target N] [--concurrency 32] [--delegated-admin]
"""
import argparse
import json
import os
import re
import subprocess
import tempfile
import time

from common import BIN, free_port, get, machine, start_simulator

p = argparse.ArgumentParser()
p.add_argument("--accounts", type=int, default=100)
p.add_argument("--regions", type=int, default=4)
p.add_argument("--findings-per-target", type=int, default=None)
p.add_argument("--concurrency", type=int, default=32)
p.add_argument("--delegated-admin", action="store_true")
a = p.parse_args()

server = os.environ["DATABASE_URL"]
db = server.rsplit("/", 1)[0] + "/sightline_bench_poll"
subprocess.run(["psql", server, "-qc", "DROP DATABASE IF EXISTS sightline_bench_poll", "-c", "CREATE DATABASE sightline_bench_poll"], check=True)

args = ["--accounts", str(a.accounts), "--regions", str(a.regions)]
if a.findings_per_target:
    args += ["--findings-per-target", str(a.findings_per_target)]
if a.delegated_admin:
    args += ["--delegated-admin"]
sim, url, _ = start_simulator(*args)
try:
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, "sightline.toml")
        with open(cfg, "w") as f:
            f.write(f'listen = "127.0.0.1:{free_port()}"\n')
            f.write(get(url + "/_sim/config"))
            f.write(f"\n[poller]\nconcurrency = {a.concurrency}\n")
        env = dict(os.environ, DATABASE_URL=db, RUST_LOG="error")
        subprocess.run([BIN, "--config", cfg, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        t = time.monotonic()
        out = subprocess.run(["/usr/bin/time", "-v", BIN, "--config", cfg, "poll", "--once"], env=env,
                             capture_output=True, text=True)
        seconds = time.monotonic() - t
        if out.returncode != 0:
            raise SystemExit(out.stdout + out.stderr)
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1)) / 1024
        summary = out.stdout.strip().splitlines()[-1]

    requests = json.loads(get(url + "/_sim/requests"))
    truth = json.loads(get(url + "/_sim/truth"))
    canonical = sum(g["count"] for g in truth["findings"])
    bound, bound_burst, busiest = 0.0, 0.0, None
    for key, n in requests.items():
        account, region, service, op = key.split("/", 3)
        if service == "sts":
            continue  # the simulator does not rate-limit STS
        rate, burst = (3.0, 6) if service == "securityhub" and op == "POST /findings" else (10.0, 30)
        if n / rate > bound:
            bound, busiest = n / rate, (key, n)
        bound_burst = max(bound_burst, max(0, n - burst) / rate)
    total = sum(requests.values())
    print(f"machine: {machine()}")
    print(f"poller: {summary}")
    print(f"busiest operation: {busiest[0]} with {busiest[1]} requests")
    print("| organisation | canonical findings | requests | cycle | bound (requests ÷ rate) | cycle ÷ bound | bound less bursts | poller peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    org = f"{a.accounts} accounts × {a.regions} regions × 5 sources" + (f", {a.findings_per_target}/target" if a.findings_per_target else ", default estate")
    if a.delegated_admin:
        org += ", through the delegated administrator"
    ratio = seconds / bound if bound else float("inf")
    print(f"| {org} | {canonical:,} | {total:,} | {seconds:.1f} s | {bound:.1f} s | {ratio:.2f} | {bound_burst:.1f} s | {rss:.0f} MiB |")
finally:
    sim.terminate()
    sim.wait()
    subprocess.run(["psql", server, "-qc", "DROP DATABASE IF EXISTS sightline_bench_poll"], check=False)
