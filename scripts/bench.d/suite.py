"""Every benchmark in one run, one table: `./scripts/bench suite`.

Runs, one after the other on the same Postgres server (DATABASE_URL, set by scripts/bench):
the upsert against COPY (`upsert`), one poll cycle against the simulator's rate-limit bound
(`poll`), the pages and the API over N findings loaded through `upsert_batch` with their
events and 30 days of rollups (`pages`), and the trend pages over a year of rollups
(`trends`). Each prints its own tables (kept in full in the log, `--log`); this script reads
them and prints one table of every measurement that has a target: the value, the target and
whether it is met, plus the database size per million findings. With `--write`, the table
replaces the part of BENCHMARKS.md between `<!-- suite:begin -->` and `<!-- suite:end -->`,
with the machine, the date, the commit and the command.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, machine  # noqa: E402

p = argparse.ArgumentParser(prog="./scripts/bench suite", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("--findings", type=int, default=1_000_000, help="findings for the pages benchmark")
p.add_argument("--poll-findings-per-target", type=int, default=50,
               help="findings per (account, region, source) of the polled organisation "
                    "(100 accounts x 4 regions; 50: about 100,000 findings, 500: about 1,000,000)")
p.add_argument("--upsert-findings", type=int, default=100_000)
p.add_argument("--upsert-runs", type=int, default=1)
p.add_argument("--trend-days", type=int, default=365)
p.add_argument("--skip-load", action="store_true",
               help="reuse the pages and trends databases when they exist")
p.add_argument("--only", default="", help="comma-separated: upsert, poll, pages, trends")
p.add_argument("--log", default="", help="where the benchmarks' own output goes "
                                         "(default: target/bench-suite.log)")
p.add_argument("--write", action="store_true", help="rewrite the suite's table in BENCHMARKS.md")
a = p.parse_args()

LOG = a.log or os.path.join(ROOT, "target", "bench-suite.log")
HERE = os.path.dirname(os.path.abspath(__file__))


def run(name, cmd):
    """Runs one benchmark; its stdout (and stderr) go to the log. Returns (stdout, seconds, ok)."""
    print(f"{name}: {' '.join(shlex.quote(c) for c in cmd)}", file=sys.stderr, flush=True)
    t = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    secs = time.monotonic() - t
    with open(LOG, "a") as f:
        f.write(f"\n### {name}: {' '.join(cmd)} (exit {out.returncode}, {secs:.0f} s)\n")
        f.write(out.stderr)
        f.write(out.stdout)
    if out.returncode != 0:
        print(f"{name}: exit {out.returncode}; see {LOG}", file=sys.stderr)
    return out.stdout, secs, out.returncode == 0


def tables(text):
    """The markdown tables in `text`: lists of rows (cells), header first, separator dropped."""
    found, cur = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-+:?", c) for c in cells):
                cur.append(cells)
        elif cur:
            found.append(cur)
            cur = []
    return found


def table_with(text, first_header):
    for t in tables(text):
        if t and t[0] and t[0][0] == first_header:
            return t
    return None


def line_with(text, prefix):
    return next((l for l in text.splitlines() if l.startswith(prefix)), "")


def ms(cell):
    m = re.match(r"([\d,.]+) ms", cell)
    return float(m.group(1).replace(",", "")) if m else None


rows = []  # (benchmark, measurement, value, target, verdict)
notes = []
only = set(filter(None, a.only.split(",")))
want = lambda name: not only or name in only  # noqa: E731
started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
open(LOG, "w").close()

if want("upsert"):
    out, secs, ok = run("upsert", ["./scripts/bench", "upsert", "--findings", str(a.upsert_findings),
                                   "--runs", str(a.upsert_runs)])
    t = table_with(out, "Write")
    if not ok or not t:
        rows.append(("upsert", "the benchmark", "failed", "", "FAILED"))
    else:
        for r in t[1:]:
            write, batch, _, rate, vs = r[:5]
            if write.startswith("upsert_batch, new"):
                ratio = float(vs)
                rows.append(("upsert", f"{write}, batches of {batch}", f"{rate} rows/s = {vs} × COPY",
                             "≥ 0.5 × COPY", "met" if ratio >= 0.5 else "MISSED"))
            elif write.startswith("upsert_batch, unchanged"):
                rows.append(("upsert", f"{write}, batches of {batch}", f"{rate} rows/s = {vs} × COPY",
                             "", ""))
        notes.append(f"upsert: {a.upsert_findings:,} findings, best of {a.upsert_runs} run(s), {secs:.0f} s")

if want("poll"):
    out, secs, ok = run("poll", [sys.executable, os.path.join(HERE, "poll_cycle.py"),
                                 "--findings-per-target", str(a.poll_findings_per_target)])
    t = table_with(out, "organisation")
    if not ok or not t:
        rows.append(("poll", "the benchmark", "failed", "", "FAILED"))
    else:
        r = dict(zip(t[0], t[1]))
        ratio = float(r["cycle ÷ bound"])
        rows.append(("poll", f"one cycle, {r['organisation']}, {r['canonical findings']} findings",
                     f"{r['cycle']} = {ratio:.2f} × the bound ({r['bound (requests ÷ rate)']})",
                     "≤ 1.25 × bound", "met" if ratio <= 1.25 else "MISSED"))
        rows.append(("poll", "poller peak RSS", r["poller peak RSS"], "", ""))
        notes.append(f"poll: {line_with(out, 'busiest operation')}; {secs:.0f} s")

if want("pages"):
    cmd = [sys.executable, os.path.join(HERE, "pages.py"), "--findings", str(a.findings)]
    if a.skip_load:
        cmd.append("--skip-load")
    out, secs, ok = run("pages", cmd)
    t = table_with(out, "URL")
    if not t:
        rows.append(("pages", "the benchmark", "failed", "", "FAILED"))
    else:
        for r in t[1:]:
            url, conc, rps, p50, p95, target, result = r[:7]
            if target in ("—", ""):
                continue
            if url.startswith("/findings.csv") or "rows/s" in target:
                rows.append(("pages", url.strip("`"), result.split(": ", 1)[-1], target,
                             result.split(":")[0]))
            elif url.startswith("serve peak RSS"):
                rows.append(("pages", "serve peak RSS", result.split(": ", 1)[-1], target,
                             result.split(":")[0]))
            else:
                rows.append(("pages", f"{url.strip('`')} (c={conc})", f"p95 {p95} (p50 {p50})",
                             target, result))
        data = line_with(out, "data:")
        m = re.search(r"data: ([\d,]+) findings.*database (\d+) MB", data)
        if m:
            n = int(m.group(1).replace(",", ""))
            per_million = int(m.group(2)) / (n / 1e6)
            rows.append(("pages", "database size per million findings",
                         f"{per_million / 1024:.1f} GB ({int(m.group(2)):,} MB for {n:,})", "", ""))
        if not ok:
            rows.append(("pages", "every response a 200", "no: see the log", "", "FAILED"))
        notes.append(f"pages: {data.removeprefix('data: ')}; {secs:.0f} s")

if want("trends"):
    cmd = [sys.executable, os.path.join(HERE, "trends.py"), "--days", str(a.trend_days)]
    if a.skip_load:
        cmd.append("--skip-load")
    out, secs, ok = run("trends", cmd)
    t = table_with(out, "URL")
    if not t:
        rows.append(("trends", "the benchmark", "failed", "", "FAILED"))
    else:
        h = t[0]
        for r in t[1:]:
            d = dict(zip(h, r))
            rows.append(("trends", f"{d['URL'].strip('`')} (c=8)",
                         f"p95 {d['p95']} (first request {d['first request']})",
                         "p95 ≤ 50 ms", d[h[-1]]))
        if not ok:
            rows.append(("trends", "every response a 200", "no: see the log", "", "FAILED"))
        notes.append(f"trends: {line_with(out, 'data:').removeprefix('data: ')}; {secs:.0f} s")

commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                        text=True).stdout.strip() or "(not a git checkout)"
dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                       capture_output=True, text=True).stdout.strip()
command = "./scripts/bench suite " + " ".join(shlex.quote(x) for x in sys.argv[1:] if x != "--write")
met = sum(1 for r in rows if r[4] == "met")
targets = sum(1 for r in rows if r[4] in ("met", "MISSED", "FAILED"))
lines = [
    f"Run {started} to {time.strftime('%H:%M UTC', time.gmtime())} on commit {commit}"
    + (" (with uncommitted changes)" if dirty else "") + f", with `{command.strip()}`"
    + f"; machine: {machine()}; Postgres: the server at `DATABASE_URL` (scripts/bench starts a "
    "private one when it is not set). The benchmarks' own output: "
    f"`{os.path.relpath(LOG, ROOT)}`.",
    "",
    f"**{met} of {targets} targets met.**",
    "",
    "| benchmark | measurement | value | target | result |",
    "|---|---|---|---|---|",
]
lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
lines += [""] + [f"- {n}" for n in notes]
text = "\n".join(lines)
print(text)

if a.write:
    path = os.path.join(ROOT, "BENCHMARKS.md")
    with open(path) as f:
        doc = f.read()
    begin, end = "<!-- suite:begin -->", "<!-- suite:end -->"
    if begin not in doc or end not in doc:
        sys.exit(f"BENCHMARKS.md has no {begin} … {end} section to rewrite")
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w") as f:
        f.write(head + begin + "\n" + text + "\n" + end + tail)
    print(f"wrote the table into {path}", file=sys.stderr)

sys.exit(0 if all(r[4] != "FAILED" for r in rows) else 1)
