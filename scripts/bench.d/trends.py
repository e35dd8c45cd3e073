"""Server time of /trends and the trend API over a year of rollups (issue 7).

Loads the database `sightline_bench_trends` (`--skip-load` reuses it when it exists): applies
the migrations (`sightline migrate`), writes the accounts, then fills `daily_rollups` for
`--days` days (default 365) x `--accounts` accounts (200) x `--regions` regions (16) x 5 sources
x 5 severities in one `INSERT ... SELECT FROM generate_series(...)`, and runs
`VACUUM (ANALYZE)`. The numbers are made up but shaped like an estate's (see ROLLUPS below):
about `--open` open findings today (700,000), the first tenth of the accounts holding 30% of
them, 60% in four busy regions, Security Hub half of them, critical 3%, high 14%, medium 36%,
low 32%, informational 15%; Macie off outside the busy regions in most accounts; 30% of the
(account, region, source, severity) cells start later in the year; the open count grows by a
third over the year with a slow wobble; about 1/40 of a cell's open findings are new on a day,
1/45 resolved, a few reopened, and a share of them past their SLA. A row is written only when
one of its counts is non-zero, as `db::rollups::recompute` does: cells with a fraction of a
finding on average appear on some days only.

Then it starts `sightline serve --no-poller` on it, creates an API token, and measures `/trends`
(the default 90 days, `days=365`, and filtered by one account and by an environment, as the form
and the account pages' links filter it) and, over the last 365 days, `/api/v1/trends/open` per
day (total and by severity), per week and per month and `/api/v1/trends/flow` per day and per
week. For each URL it times the first request to the freshly started server ("first request":
nothing of it is in the server's cache, `src/web/cache.rs`, which keeps the trend series until
the rollups change, `src/web/series.rs`: the cost of a view after each poll cycle; Postgres' and
the OS's caches are warm from the load); checks whether a request is served from that cache, by
answering one with the `daily_*` tables locked from another session (a request that reads them
waits for the lock: "no"); then runs wrk (closed loop at `--connections`, default 8) for
`--duration` seconds (10, or ten times the first request's time for a slow URL, at most
`--max-duration`) after a `--warmup` (none for a URL whose first request took a second or
more), reading p50, p95 and p99 from wrk's latency histogram. wrk leaves the requests in flight
at the end of a run unanswered: after each run the script waits until no statement runs on the
database, cancelling those still running after 5 s. Every response must be a 200 (the table
counts the others).

`/trends` also reads `findings` and `finding_events` (time to resolve, the overdue list): they
are empty here, so those two statements cost next to nothing; the page's rollup statements are
what is measured.

Needs DATABASE_URL (scripts/bench provides one) and wrk (installed with apt-get when missing).
Usage:
  python3 scripts/bench.d/trends.py [--days 365] [--accounts 200] [--regions 16]
      [--open 700000] [--skip-load] [--duration 10] [--max-duration 60] [--warmup 3]
      [--connections 8] [--only TEXT]
"""
import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from common import BIN, ROOT, ensure_wrk, get, machine, psql, start_serve, wrk, wrk_script

# The regions of sim::samples::ESTATE_REGIONS, busiest first.
REGIONS = ["us-east-1", "eu-west-1", "us-west-2", "eu-central-1", "ap-southeast-2", "us-east-2",
           "eu-west-2", "ap-northeast-1", "ca-central-1", "ap-southeast-1", "eu-north-1",
           "ap-south-1", "sa-east-1", "us-west-1", "eu-west-3", "ap-northeast-2"]
APPROVED = 6

p = argparse.ArgumentParser()
p.add_argument("--days", type=int, default=365)
p.add_argument("--accounts", type=int, default=200)
p.add_argument("--regions", type=int, default=16)
p.add_argument("--open", type=int, default=700_000, help="open findings today, roughly")
p.add_argument("--skip-load", action="store_true", help="reuse the database when it exists")
p.add_argument("--duration", type=int, default=10, help="seconds measured per URL")
p.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured load first")
p.add_argument("--connections", type=int, default=8, help="wrk's concurrency")
p.add_argument("--only", default="", help="measure only the URLs containing this text")
p.add_argument("--max-duration", type=int, default=60,
               help="a URL whose first request took s seconds is measured for 10 s (--duration) or "
                    "10 x s, whichever is longer, up to this")
p.add_argument("--database", default="sightline_bench_trends", help="the database to load and serve")
a = p.parse_args()
if not (1 <= a.regions <= len(REGIONS)) or a.accounts < 2 or a.days < 2:
    sys.exit(f"--regions must be 1 to {len(REGIONS)}, --accounts and --days at least 2")
if not all(c.islower() or c.isdigit() or c == "_" for c in a.database):
    sys.exit("--database must be a plain lower-case identifier")
DATABASE = a.database

server = os.environ["DATABASE_URL"]
db = server.rsplit("/", 1)[0] + "/" + DATABASE


# The accounts as examples/bench_load.rs names them: the first tenth are production.
ACCOUNTS = f"""
INSERT INTO accounts (id, name, environment, owner)
SELECT lpad((200000000000 + k)::text, 12, '0'),
       env || '-' || team || '-' || lpad(k::text, 3, '0'), env, team
FROM generate_series(0, {a.accounts} - 1) AS k
CROSS JOIN LATERAL (
    SELECT CASE WHEN k < ceil({a.accounts} / 10.0) THEN 'prod'
                ELSE (ARRAY['prod', 'prod', 'staging', 'dev', 'sandbox'])[k % 5 + 1] END AS env,
           (ARRAY['payments', 'identity', 'search', 'data', 'platform', 'mobile', 'web', 'ml',
                  'billing', 'security'])[(k / 5) % 10 + 1] AS team
) AS t
"""

# One row per day x cell (account, region, source, severity) with a non-zero count. `lam` is
# the cell's open findings today (its share of --open, times a fixed noise in 0.4..1.6); every
# other number is drawn from it with a hash of the cell and the day (the same on every run),
# rounded at random so that cells of less than one finding show up on some days.
U = "(hashint8({}) & 2147483647)::float8 / 2147483648"
ROLLUPS = f"""
INSERT INTO daily_rollups (day, account_id, region, source, severity, open_count, new_count,
                           resolved_count, reopened_count, past_sla_count)
WITH acc AS (
    SELECT k, lpad((200000000000 + k)::text, 12, '0') AS id,
           CASE WHEN k < ceil({a.accounts} / 10.0) THEN 0.30 / ceil({a.accounts} / 10.0)
                ELSE 0.70 / ({a.accounts} - ceil({a.accounts} / 10.0)) END AS w
    FROM generate_series(0, {a.accounts} - 1) AS k
),
reg AS (
    SELECT i, r, CASE WHEN i <= 4 THEN 0.6 / least(4, {a.regions}) ELSE 0 END
                 + 0.4 / {a.regions} AS w
    FROM unnest(ARRAY{REGIONS[:a.regions]!r}::text[]) WITH ORDINALITY AS t(r, i)
),
src (s, w) AS (
    VALUES ('securityhub'::finding_source, 0.50), ('inspector', 0.22), ('guardduty', 0.10),
           ('accessanalyzer', 0.10), ('macie', 0.08)
),
sev (v, w, sla) AS (
    -- sla: the share of the open findings that is past its SLA
    VALUES ('critical'::severity, 0.03, 0.25), ('high', 0.14, 0.18), ('medium', 0.36, 0.10),
           ('low', 0.32, 0.05), ('informational', 0.15, 0.0)
),
base AS (
    SELECT row_number() OVER () AS c, acc.id AS account_id, reg.r AS region, src.s AS source,
           sev.v AS severity, sev.sla,
           {a.open} * acc.w * reg.w * src.w * sev.w
             -- Macie is on only in the busy regions of three accounts in four
             * CASE WHEN src.s = 'macie' AND reg.i > 4 AND acc.k % 4 <> 0 THEN 0 ELSE 1 END AS lam
    FROM acc, reg, src, sev
),
cells AS MATERIALIZED (
    SELECT c, account_id, region, source, severity, sla,
           lam * (0.4 + 1.2 * {U.format('c * 8 + 1')}) AS lam,
           CASE WHEN {U.format('c * 8 + 2')} < 0.3
                THEN floor({U.format('c * 8 + 3')} * {a.days} * 0.6)::int ELSE 0 END AS start_day,
           {U.format('c * 8 + 4')} * 6.2832 AS phase
    FROM base
    WHERE lam > 0
)
SELECT (now() AT TIME ZONE 'UTC')::date - ({a.days} - 1) + d.d, x.account_id, x.region, x.source,
       x.severity, x.open_n, x.new_n, x.resolved_n, x.reopened_n,
       least(x.open_n, floor(x.open_n * x.sla + x.r)::int)
FROM generate_series(0, {a.days} - 1) AS d(d)
CROSS JOIN LATERAL (
    SELECT cl.*,
           floor(cl.lam * (0.75 + 0.25 * d.d / ({a.days} - 1)) * (1 + 0.08 * sin(d.d / 9.0 + cl.phase))
                 + {U.format('cl.c * 10000 + d.d')})::int AS open_n,
           floor(cl.lam / 40 + {U.format('cl.c * 10000 + d.d + 1000000000')})::int AS new_n,
           floor(cl.lam / 45 + {U.format('cl.c * 10000 + d.d + 2000000000')})::int AS resolved_n,
           floor(cl.lam / 800 + {U.format('cl.c * 10000 + d.d + 3000000000')})::int AS reopened_n,
           {U.format('cl.c * 10000 + d.d + 4000000000')} AS r
    FROM cells cl
    WHERE d.d >= cl.start_day
) AS x
WHERE x.open_n + x.new_n + x.resolved_n + x.reopened_n > 0
"""

ensure_wrk()

exists = psql(server, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") == "1"
load_times = {}
if a.skip_load and exists:
    print(f"reusing database {DATABASE} (--skip-load)", file=sys.stderr)
    # Migrations added since the load run here, timed, not in `serve`'s start.
    t = time.monotonic()
    subprocess.run([BIN, "migrate"], env=dict(os.environ, DATABASE_URL=db, RUST_LOG="warn"),
                   check=True, stdout=subprocess.DEVNULL)
    print(f"migrate: {time.monotonic() - t:.1f} s", file=sys.stderr)
else:
    psql(server, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    psql(server, f"CREATE DATABASE {DATABASE}")
    subprocess.run([BIN, "migrate"], env=dict(os.environ, DATABASE_URL=db, RUST_LOG="warn"),
                   check=True, stdout=subprocess.DEVNULL)
    psql(db, ACCOUNTS)
    t = time.monotonic()
    psql(db, "SET jit = off; " + ROLLUPS)
    load_times["insert"] = time.monotonic() - t
    t = time.monotonic()
    psql(db, "VACUUM (ANALYZE)")
    load_times["vacuum"] = time.monotonic() - t
    print(f"loaded {DATABASE}: rollups in {load_times['insert']:.0f} s, "
          f"VACUUM (ANALYZE) in {load_times['vacuum']:.0f} s", file=sys.stderr)

today = datetime.datetime.now(datetime.timezone.utc).date()
year_ago = today - datetime.timedelta(days=364)
rows, days, first_day, last_day = psql(
    db, "SELECT count(*), count(DISTINCT day), min(day), max(day) FROM daily_rollups").split("|")
rows_today, open_today = psql(
    db, f"SELECT count(*), coalesce(sum(open_count), 0) FROM daily_rollups WHERE day = '{last_day}'").split("|")
heap, indexes, total = psql(
    db, "SELECT pg_size_pretty(pg_relation_size('daily_rollups')), "
        "pg_size_pretty(pg_indexes_size('daily_rollups')), "
        "pg_size_pretty(pg_total_relation_size('daily_rollups'))").split("|")
# Tables the migrations may have added beside the rollups (summaries of them).
# Counted, not read from the statistics (they are empty after a server restart).
others = "; ".join(
    f"{name}: {int(psql(db, f'SELECT count(*) FROM {name}')):,} rows, "
    + psql(db, f"SELECT pg_size_pretty(pg_total_relation_size('{name}'))")
    for name in psql(db, "SELECT relname FROM pg_stat_user_tables WHERE relname LIKE 'daily\\_%' "
                         "AND relname <> 'daily_rollups' ORDER BY relname").split("\n") if name)
size = psql(db, f"SELECT pg_size_pretty(pg_database_size('{DATABASE}'))")
accounts = [line.split("|") for line in
            psql(db, "SELECT id, name, environment, owner FROM accounts ORDER BY id").split("\n") if line]
pg_version = psql(server, "SELECT version()")
settings = ", ".join(f"{s}={psql(server, 'SHOW ' + s)}"
                     for s in ["shared_buffers", "work_mem", "effective_cache_size", "fsync",
                               "synchronous_commit", "max_parallel_workers_per_gather"])
if str(today) != last_day:
    print(f"warning: the rollups end on {last_day}, not today ({today}): reload without --skip-load",
          file=sys.stderr)

tmp = tempfile.mkdtemp(prefix="sightline-bench-trends-")
serve, serve_log, base, token_name, token = start_serve(
    tmp, db, REGIONS[:a.regions], REGIONS[:min(APPROVED, a.regions)], accounts)
lua = wrk_script(tmp)


def fetch(path, headers=None):
    req = urllib.request.Request(base + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def settle():
    """Waits until no statement runs on the database. wrk leaves the requests in flight at the
    end of a run unanswered, and the server still answers them: after a few seconds their
    statements are cancelled, so that they do not slow the next measurement."""
    active = (f"FROM pg_stat_activity WHERE datname = '{DATABASE}' AND state = 'active' "
              "AND pid <> pg_backend_pid()")
    for i in range(600):
        if psql(db, f"SELECT count(*) {active}") == "0":
            return
        if i == 10:
            psql(db, f"SELECT pg_cancel_backend(pid) {active}")
        time.sleep(0.5)
    print(f"warning: statements still running on {DATABASE}", file=sys.stderr)


def reads_rollups(path, headers):
    """Whether a request runs a statement on the rollups (or a table summing them): answers it
    with those tables locked (ACCESS EXCLUSIVE, from another session). A request served from
    the server's cache completes; one that reads them waits for the lock, and is let go."""
    tables = psql(db, "SELECT string_agg(quote_ident(relname), ', ') FROM pg_stat_user_tables "
                      "WHERE relname LIKE 'daily\\_%'")
    locker = subprocess.Popen(["psql", db, "-XAtq", "-c",
                               f"BEGIN; LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE; "
                               "SELECT pg_sleep(120)"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    lock = ("FROM pg_locks l "
            "WHERE l.relation = 'daily_rollups'::regclass AND l.mode = 'AccessExclusiveLock' AND l.granted")
    for _ in range(200):
        if psql(db, f"SELECT count(*) {lock}") != "0":
            break
        time.sleep(0.05)
    else:
        locker.kill()
        sys.exit("could not lock the rollups to check the cache")
    done = threading.Event()
    threading.Thread(target=lambda: (fetch(path, headers), done.set()), daemon=True).start()
    waits = False
    for _ in range(100):
        if done.wait(0.05):
            break
        if psql(db, f"SELECT count(*) FROM pg_stat_activity WHERE datname = '{DATABASE}' "
                    "AND wait_event_type = 'Lock'") != "0":
            waits = True
            break
    else:
        waits = True
    psql(db, f"SELECT pg_cancel_backend(l.pid) {lock}")
    locker.wait()
    done.wait(600)
    return waits


results = []
failures = []
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
    year = f"from={year_ago}&to={today}"
    urls = [
        ("/trends", ()),
        ("/trends?days=365", ()),
        (f"/api/v1/trends/open?interval=day&{year}", (auth,)),
        (f"/api/v1/trends/open?interval=day&{year}&group_by=severity", (auth,)),
        (f"/api/v1/trends/open?interval=week&{year}", (auth,)),
        (f"/api/v1/trends/open?interval=month&{year}", (auth,)),
        (f"/api/v1/trends/flow?interval=day&{year}", (auth,)),
        (f"/api/v1/trends/flow?interval=week&{year}", (auth,)),
        # Filtered as the page's form and the account pages' links filter it.
        (f"/trends?account={accounts[0][0]}", ()),
        ("/trends?environment=prod", ()),
        ("/trends?environment=prod&days=365", ()),
        (f"/api/v1/trends/open?interval=day&{year}&group_by=severity&environment=prod", (auth,)),
    ]
    TARGET_MS = 50.0
    for path, headers in urls:
        if a.only and a.only not in path:
            continue
        hdrs = dict(h.split(": ", 1) for h in headers)
        t = time.monotonic()
        status, body = fetch(path, hdrs)
        first_ms = (time.monotonic() - t) * 1000
        if status != 200:
            failures.append(f"{path}: HTTP {status}: {body[:300]!r}")
            print(f"{path}: HTTP {status}", file=sys.stderr)
            continue
        cached = "no: reads the rollups" if reads_rollups(path, hdrs) else "yes"
        # A slow URL is measured for longer, so that some requests complete.
        duration = max(a.duration, min(a.max_duration, round(10 * first_ms / 1000)))
        if first_ms < 1000:
            # A slow URL is not warmed up: there is nothing to warm, and its requests would
            # still be running when the measurement starts.
            wrk(lua, base + path, a.connections, a.warmup, headers)
            settle()
        r = wrk(lua, base + path, a.connections, duration, headers)
        loads.append(os.getloadavg()[0])
        settle()
        rps = r["requests"] / (r["duration_us"] / 1e6)
        p50, p95, p99 = r["p50_us"] / 1000, r["p95_us"] / 1000, r["p99_us"] / 1000
        errors = f"{r['non_200']} + {r['errors']}" if r["non_200"] or r["errors"] else "0"
        if r["non_200"] or r["errors"]:
            codes = {}
            for n, code in re.findall(r"(\d+) x HTTP (\d+)", r["codes"]):
                codes[code] = codes.get(code, 0) + int(n)
            failures.append(f"{path}: {r['non_200']} responses other than 200 ("
                            + ", ".join(f"{n} x HTTP {c}" for c, n in sorted(codes.items()))
                            + f"), {r['errors']} socket errors")
        verdict = "met" if r["requests"] and p95 <= TARGET_MS else "MISSED"
        print(f"{path}: first {first_ms:.1f} ms; c={a.connections} for {duration} s: "
              f"{r['requests']} requests, {rps:.1f} req/s, p50 {p50:.1f} ms, "
              f"p95 {p95:.1f} ms, p99 {p99:.1f} ms, errors (non-200 + socket) {errors}, {len(body):,} bytes, "
              f"cached: {cached}; {verdict}", file=sys.stderr)
        results.append((path, f"{len(body):,}", cached, f"{first_ms:.1f} ms",
                        f"{r['requests']:,} in {duration} s", f"{rps:,.1f}",
                        f"{p50:.1f} ms", f"{p95:.1f} ms", f"{p99:.1f} ms", errors, verdict))
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
    if serve.returncode not in (0, -15) or failures:
        with open(serve_log.name) as f:
            print(f"serve exited with {serve.returncode}; the end of its log:\n{f.read()[-3000:]}",
                  file=sys.stderr)
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
print(f"data: {int(rows):,} rows in daily_rollups, {days} days ({first_day} to {last_day}), "
      f"{len(accounts)} accounts x {a.regions} regions x 5 sources x 5 severities; "
      f"{int(rows_today):,} rows and {int(open_today):,} open findings on the last day; "
      f"daily_rollups {total} on disk ({heap} heap, {indexes} of indexes); "
      f"{others + '; ' if others else ''}database {size}"
      + (f"; loaded in {load_times['insert']:.0f} s, VACUUM (ANALYZE) {load_times['vacuum']:.0f} s"
         if load_times else ""))
print(f"wrk: {a.duration} s per URL (longer for slow ones) after {a.warmup} s of warm-up, {a.connections} connections; "
      f"client, server and Postgres share the machine; 1-minute load average "
      f"{min(loads):.1f} to {max(loads):.1f} (before the run and after each URL)")
print()
print("| URL | bytes | served from the server's cache | first request | requests | requests/s | p50 | p95 | p99 | errors (non-200 + socket) | p95 ≤ 50 ms |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
for r in results:
    print(f"| `{r[0]}` | " + " | ".join(r[1:]) + " |")
if failures:
    print()
    for f in failures:
        print(f"FAILED: {f}")
    sys.exit(1)
