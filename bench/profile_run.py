#!/usr/bin/env python3
"""Profile one `osiris run` of a benchmark pipeline with py-spy and summarize where time goes.

    .venv/bin/python bench/profile_run.py mysql_to_postgres [--source-table T] [--out FILE]
    .venv/bin/python bench/profile_run.py --summarize RAW_PY_SPY_FILE

py-spy (from bench/setup_peers.sh: /tmp/venv-prof) samples every thread of the CLI and of the
executor child with native frames and idle time included (`--idle --native`), so a thread that
waits on a socket shows up as waiting. The summary puts each executor sample into one bucket by
what the innermost interesting frame is doing. connectorx reads MySQL on a Rust thread that has
no Python frames, which py-spy does not sample; its share shows up as the executor's main thread
waiting for the next batch ("waiting for input batch").
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
PY_SPY = os.environ.get("BENCH_PY_SPY", "/tmp/venv-prof/bin/py-spy")

# (bucket, predicate on the ;-joined stack) in priority order
BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("writer: waiting on the PostgreSQL socket (server busy)", ("adbc_ingest", "PQsocketPoll")),
    ("writer: waiting on the PostgreSQL socket (server busy)", ("adbc_ingest", ";send (")),
    ("writer: encoding binary COPY rows (ADBC, CPU)", ("adbc_ingest", "adbcpq::")),
    ("writer: waiting for input batch", ("adbc_ingest", "ReadNext")),
    ("writer: Arrow casts / jsonb prefix", ("adbc_ingest", "arrow::compute")),
    ("writer: other inside adbc_ingest", ("adbc_ingest",)),
    ("writer: DDL, index build, rename, commit", ("postgres/writer/driver.py",)),
    ("duckdb: loading input into the database file", ("_load_inputs",)),
    ("duckdb: query / result stream", ("duckdb/processor/driver.py",)),
    ("extractor: connect, describe table", ("mysql/extractor/driver.py:run",)),
    ("extractor: batch loop (incl. waiting for connectorx)", ("mysql/extractor/driver.py",)),
    ("connecting to PostgreSQL (incl. driver import)", ("postgres/_conn.py",)),
    ("imports", ("importlib",)),
    ("garbage collector", ("gc_collect",)),
]


# background threads that only sleep (parent-death watch, connect watchdog timers)
IDLE_THREADS = ("ParentWatch", "Timer.run", "memory-watchdog", "start_memory_watchdog")


def bucket(stack: str) -> str:
    for name, needles in BUCKETS:
        if all(n in stack for n in needles):
            return name
    return "other"


def summarize(raw: Path) -> str:
    per_proc: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        procs = [i for i, f in enumerate(frames) if f.startswith("process ")]
        proc = "executor" if " exec " in frames[procs[-1]] else "cli"
        rest = ";".join(frames[procs[-1] + 1 :])
        if any(idle in rest for idle in IDLE_THREADS):
            continue
        if proc == "cli":
            waiting = any(w in rest for w in ("_pump", "follow (", "Condition.wait"))
            per_proc[proc]["waiting for the executor" if waiting else "compile, session"] += int(
                count
            )
        else:
            per_proc[proc][bucket(rest)] += int(count)
    lines = []
    for proc, counts in per_proc.items():
        total = sum(counts.values())
        lines.append(f"{proc}: {total} samples (working threads, waiting included)")
        for name, n in counts.most_common():
            lines.append(f"  {100 * n / total:5.1f}%  {n:6d}  {name}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("pipeline", nargs="?", default="mysql_to_postgres")
    ap.add_argument("--source-table", default="events")
    ap.add_argument("--rate", type=int, default=250)
    ap.add_argument("--out", type=Path, help="write the summary here too")
    ap.add_argument("--summarize", type=Path, help="only summarize an existing raw py-spy file")
    a = ap.parse_args()
    if a.summarize:
        text = summarize(a.summarize)
    else:
        sys.path.insert(0, str(BENCH))
        import checks
        from tools import OSIRIS

        target = {"mysql_to_postgres": "events_osiris"}.get(a.pipeline, f"events_{a.pipeline}")
        checks.psql(f"DROP TABLE IF EXISTS public.{target}")
        checks.psql("CHECKPOINT")
        raw = Path(f"/tmp/osiris-profile-{a.pipeline}.txt")
        cmd = [
            PY_SPY, "record", "--subprocesses", "--idle", "--native", "--rate", str(a.rate),
            "--format", "raw", "-o", str(raw), "--",
            OSIRIS, "run", str(BENCH / "pipelines" / f"{a.pipeline}.yaml"),
            "--logs-dir", "/tmp/osiris-profile-logs", "--quiet",
            "--param", f"source_table={a.source_table}", "--param", f"target_table={target}",
        ]  # fmt: skip
        subprocess.run(cmd, check=True, env={**os.environ, "NO_PROXY": "127.0.0.1,localhost"})
        text = summarize(raw)
        print(f"raw stacks: {raw} (flamegraph.pl or speedscope can draw them)")
    print(text, end="")
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
