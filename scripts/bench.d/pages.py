"""Server time of the pages and the API over an organisation's worth of findings (issues 5, 6).

Loads the database `sightline_bench_pages` with examples/bench_load.rs (1,000,000 findings over
200 accounts x 16 regions by default; `--skip-load` reuses it when it exists), starts
`sightline serve --no-poller` on it, creates an API token, then measures each URL with wrk
(closed loop: C connections, each sending its next request when the last one is answered) for
`--duration` seconds after a `--warmup`, reading p50 and p95 from wrk's latency histogram:

- concurrency 8: the pages (overview, accounts, one account, regions, one region: target
  p95 <= 50 ms), the findings list with one filter each (target p95 <= 100 ms), the list
  without a filter, /coverage and /status (no target);
- concurrency 16, with the bearer token: /api/v1/findings?limit=100 and /api/v1/stats/open
  grouped by account, region, source and severity, plain and gzipped (target p95 <= 50 ms);
- the CSV export of every open finding, read to the end: rows/s (target >= 20,000);
- serve's peak RSS (VmHWM) after all of it (target <= 200 MB).

Every response must be a 200: the script fails when wrk saw any other status or an error.

Needs DATABASE_URL (scripts/bench provides one) and wrk (installed with apt-get when missing).
Usage:
  python3 scripts/bench.d/pages.py [--findings 1000000] [--accounts 200] [--regions 16]
      [--skip-load] [--duration 10] [--warmup 3]
"""
import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from common import (ROOT, ensure_wrk, get, machine, peak_rss_mib, psql, start_serve, wrk,
                    wrk_script)

LOADER = os.path.join(ROOT, "target", "release", "examples", "bench_load")
# How many of the regions are approved (the rest are watched but unapproved).
APPROVED = 6

p = argparse.ArgumentParser()
p.add_argument("--findings", type=int, default=1_000_000)
p.add_argument("--accounts", type=int, default=200)
p.add_argument("--regions", type=int, default=16)
p.add_argument("--skip-load", action="store_true", help="reuse the database when it exists")
p.add_argument("--duration", type=int, default=10, help="seconds measured per URL")
p.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load first")
p.add_argument("--only", default="", help="measure only the URLs containing this text")
p.add_argument("--database", default="sightline_bench_pages", help="the database to load and serve")
a = p.parse_args()
DATABASE = a.database

server = os.environ["DATABASE_URL"]
db = server.rsplit("/", 1)[0] + "/" + DATABASE

ensure_wrk()

exists = psql(server, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") == "1"
if a.skip_load and exists:
    print(f"reusing database {DATABASE} (--skip-load)", file=sys.stderr)
else:
    subprocess.run([LOADER, "--findings", str(a.findings), "--accounts", str(a.accounts),
                    "--regions", str(a.regions), "--database", DATABASE], check=True)

findings = int(psql(db, "SELECT count(*) FROM findings"))
open_findings = int(psql(db, "SELECT count(*) FROM findings WHERE status = 'open'"))
regions = [r for r in psql(db, "SELECT DISTINCT region FROM poll_targets ORDER BY 1").split("\n") if r]
accounts = [line.split("|") for line in
            psql(db, "SELECT id, name, environment, owner FROM accounts ORDER BY id").split("\n") if line]
# The busiest account and region (the most open findings): the pages' worst case.
busiest_account = psql(db, "SELECT account_id FROM findings WHERE status = 'open' "
                           "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
busiest_region = psql(db, "SELECT region FROM findings WHERE status = 'open' "
                          "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
# A word of the titles that about 5% of the findings contain.
WORD = "encryption"
word_share = int(psql(db, f"SELECT count(*) FROM findings WHERE search_text LIKE '%{WORD}%'")) / max(findings, 1)
size = psql(db, f"SELECT pg_size_pretty(pg_database_size('{DATABASE}'))")
pg_version = psql(server, "SELECT version()")
settings = ", ".join(f"{s}={psql(server, 'SHOW ' + s)}"
                     for s in ["shared_buffers", "work_mem", "effective_cache_size", "fsync",
                               "synchronous_commit", "max_parallel_workers_per_gather"])


tmp = tempfile.mkdtemp(prefix="sightline-bench-pages-")
serve, serve_log, base, token_name, token = start_serve(
    tmp, db, regions, regions[:APPROVED], accounts)
lua = wrk_script(tmp)


def fetch(path, headers=None):
    req = urllib.request.Request(base + path, headers=headers or {})
    with urllib.request.urlopen(req, timeout=600) as r:
        return r.status, r.read()


rows = []
failures = []
# The 1-minute load average after each URL: other work on the machine slows every number.
loads = [os.getloadavg()[0]]
try:
    for _ in range(300):
        try:
            get(base + "/healthz", timeout=2)
            break
        except OSError:
            if serve.poll() is not None:
                sys.exit(f"serve exited with {serve.returncode}: see {serve_log.name}")
            time.sleep(0.1)
    else:
        sys.exit("serve did not answer")

    auth = f"Authorization: Bearer {token}"
    acct = urllib.parse.quote(busiest_account)
    reg = urllib.parse.quote(busiest_region)
    PAGE, LIST, API = "<= 50 ms", "<= 100 ms", "<= 50 ms"
    urls = [
        ("/", 8, PAGE, ()),
        ("/accounts", 8, PAGE, ()),
        (f"/accounts/{acct}", 8, PAGE, ()),
        ("/regions", 8, PAGE, ()),
        (f"/regions/{reg}", 8, PAGE, ()),
        ("/findings?status=open", 8, LIST, ()),
        ("/findings?severity=critical", 8, LIST, ()),
        (f"/findings?account={acct}", 8, LIST, ()),
        (f"/findings?region={reg}", 8, LIST, ()),
        ("/findings?source=guardduty", 8, LIST, ()),
        (f"/findings?q={WORD}", 8, LIST, ()),
        # Free text inside the busiest account.
        (f"/findings?q={WORD}&account={acct}", 8, LIST, ()),
        ("/findings", 8, "", ()),
        ("/coverage", 8, "", ()),
        ("/status", 8, "", ()),
        ("/api/v1/findings?limit=100", 16, API, (auth,)),
        ("/api/v1/stats/open?group_by=account,region,source,severity", 16, API, (auth,)),
        # As HTTP libraries ask for it by default (Python requests, Go, browsers' fetch).
        ("/api/v1/stats/open?group_by=account,region,source,severity", 16, API,
         (auth, "Accept-Encoding: gzip")),
    ]
    for path, conns, target, headers in urls:
        if a.only and a.only not in path:
            continue
        hdrs = dict(h.split(": ", 1) for h in headers)
        try:
            status, body = fetch(path, hdrs)
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read()
        if status != 200:
            failures.append(f"{path}: HTTP {status}: {body[:300]!r}")
            print(f"{path}: HTTP {status}", file=sys.stderr)
            continue
        wrk(lua, base + path, conns, a.warmup, headers)
        r = wrk(lua, base + path, conns, a.duration, headers)
        loads.append(os.getloadavg()[0])
        rps = r["requests"] / (r["duration_us"] / 1e6)
        p50, p95 = r["p50_us"] / 1000, r["p95_us"] / 1000
        if r["non_200"] or r["errors"]:
            failures.append(f"{path}: {r['non_200']} responses other than 200, {r['errors']} socket errors")
        limit = float(target.split()[1]) if target else None
        verdict = "" if limit is None else ("met" if p95 <= limit else "MISSED")
        label = path + ("  (Accept-Encoding: gzip)"
                        if any(h.lower().startswith("accept-encoding") for h in headers) else "")
        print(f"{label} c={conns}: {rps:.1f} req/s, p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
              f"p99 {r['p99_us'] / 1000:.1f} ms, {len(body)} bytes {verdict}", file=sys.stderr)
        rows.append((label, conns, f"{rps:,.1f}", f"{p50:.1f} ms", f"{p95:.1f} ms",
                     f"p95 {target}" if target else "—", verdict or "—"))

    csv_runs = []
    if not a.only or "csv" in a.only:
        for _ in range(2):
            t = time.monotonic()
            req = urllib.request.Request(base + "/findings.csv?status=open")
            with urllib.request.urlopen(req, timeout=3600) as r:
                status = r.status
                text = io.TextIOWrapper(r, encoding="utf-8", newline="")
                n = sum(1 for _ in csv.reader(text)) - 1
            secs = time.monotonic() - t
            csv_runs.append((n, secs))
            print(f"/findings.csv?status=open: {n} rows in {secs:.1f} s = {n / secs:,.0f} rows/s",
                  file=sys.stderr)
            if status != 200 or n != open_findings:
                failures.append(f"/findings.csv?status=open: HTTP {status}, {n} rows, expected {open_findings}")
        n, secs = min(csv_runs, key=lambda x: x[1])
        rate = n / secs
        rows.append(("/findings.csv?status=open (read to the end)", 1, f"{n:,} rows in {secs:.1f} s",
                     "", "", ">= 20,000 rows/s", f"{'met' if rate >= 20000 else 'MISSED'}: {rate:,.0f} rows/s"))

    rss = peak_rss_mib(serve.pid)
    rss_mb = rss * 1.048576
    rows.append(("serve peak RSS (VmHWM), after all of the above", "", "", "", "",
                 "<= 200 MB", f"{'met' if rss_mb <= 200 else 'MISSED'}: {rss_mb:.0f} MB ({rss:.0f} MiB)"))
finally:
    serve.terminate()
    try:
        serve.wait(timeout=30)
    except subprocess.TimeoutExpired:
        serve.kill()
    serve_log.close()
    try:
        psql(db, f"DELETE FROM api_tokens WHERE name = '{token_name}'")
    except subprocess.CalledProcessError:
        pass
    if serve.returncode not in (0, -15):
        with open(serve_log.name) as f:
            print(f"serve exited with {serve.returncode}:\n{f.read()[-2000:]}", file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)

commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip() or "(not a git checkout)"
dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                       capture_output=True, text=True).stdout.strip()
print()
print(f"machine: {machine()}")
print(f"postgres: {pg_version}")
print(f"settings: {settings}")
print(f"commit: {commit}{' (with uncommitted changes in the tree)' if dirty else ''}; "
      f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
print(f"data: {findings:,} findings ({open_findings:,} open) over {len(accounts)} accounts x "
      f"{len(regions)} regions; database {size}; account {busiest_account} and region "
      f"{busiest_region} are the busiest; q={WORD} matches {word_share:.1%} of the findings")
print(f"wrk: {a.duration} s per URL after {a.warmup} s of warm-up; client, server and Postgres share the machine; "
      f"1-minute load average {min(loads):.1f} to {max(loads):.1f} (before the run and after each URL)")
print()
print("| URL | concurrency | requests/s | p50 | p95 | target | result |")
print("|---|---:|---:|---:|---:|---|---|")
for r in rows:
    print("| " + " | ".join(f"`{c}`" if i == 0 and str(c).startswith("/") else str(c)
                            for i, c in enumerate(r)) + " |")
if failures:
    print()
    for f in failures:
        print(f"FAILED: {f}")
    sys.exit(1)
