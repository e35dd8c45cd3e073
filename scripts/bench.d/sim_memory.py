"""Peak memory of `sightline simulate` holding N findings (issue 3: 1M findings under 1 GiB).

Usage: python3 scripts/bench.d/sim_memory.py [--accounts 100] [--regions 4] [--findings-per-target 500]
"""
import argparse
import json
import time

from common import get, machine, peak_rss_mib, post, start_simulator

p = argparse.ArgumentParser()
p.add_argument("--accounts", type=int, default=100)
p.add_argument("--regions", type=int, default=4)
p.add_argument("--findings-per-target", type=int, default=500)
a = p.parse_args()

proc, url, ready = start_simulator("--accounts", str(a.accounts), "--regions", str(a.regions),
                                   "--findings-per-target", str(a.findings_per_target))
try:
    findings = a.accounts * a.regions * 5 * a.findings_per_target
    generated = peak_rss_mib(proc.pid)
    t = time.monotonic()
    truth = json.loads(get(url + "/_sim/truth"))
    truth_s = time.monotonic() - t
    counted = sum(g["count"] for g in truth["findings"])
    t = time.monotonic()
    post(url + "/_sim/advance?days=1")
    advance_s = time.monotonic() - t
    peak = peak_rss_mib(proc.pid)
    print(f"machine: {machine()}")
    print(f"| findings generated | visible in truth | ready after | /_sim/truth | advance 1 day | peak RSS after generation | peak RSS overall |")
    print(f"|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {findings:,} | {counted:,} | {ready:.1f} s | {truth_s:.1f} s | {advance_s:.1f} s | {generated:.0f} MiB | {peak:.0f} MiB |")
finally:
    proc.terminate()
    proc.wait()
