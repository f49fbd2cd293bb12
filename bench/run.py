#!/usr/bin/env python3
"""Benchmark osiris against its peers: MariaDB bench.events → PostgreSQL, in one invocation.

    bash bench/setup_peers.sh                       # peers' venvs under /tmp (once)
    .venv/bin/python bench/run.py --rows 1000000
    .venv/bin/python bench/run.py --rows 5000000 --runs 1 --tools osiris

Every tool runs --runs times, round-robin (run 1 of every tool, then run 2, ...) so that noise
from anything else on the machine spreads over all tools. Before each run the target is dropped
(or recreated empty, for the tools that need a typed table) and Postgres CHECKPOINTs; after it the
row count and per-column checksums are compared with the source (checks.py). Wall time and
memory come from measure.py. Raw records are appended to bench/results/<stamp>_<rows>.jsonl and
the summary (report.py) is printed and saved next to it as .md.

Only the standard library is needed here; the servers are reached with the mariadb/psql clients.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import checks
import report
from measure import measure
from tools import BENCH, OSIRIS, ROOT, SLING, VENV_DLT, VENV_PY, Tool, all_tools

DEFAULT_TOOLS = "osiris,osiris_duckdb,raw_pipe,baseline,sling,dlt,pandas"


def _table_for(rows: int) -> str:
    if rows == 1_000_000:
        return "events"
    return f"events_{rows // 1_000_000}m" if rows % 1_000_000 == 0 else f"events_{rows}"


def ensure_dataset(table: str, rows: int) -> None:
    try:
        have = int(checks.mysql(f"SELECT COUNT(*) FROM `{table}`")[0][0])
    except (checks.CheckError, IndexError, ValueError):
        have = -1
    if have == rows:
        print(f"source: bench.{table} has {rows:,} rows")
        return
    print(f"source: bench.{table} has {max(have, 0):,} rows, (re)creating it with {rows:,}")
    cmd = [sys.executable, str(BENCH / "make_dataset.py"), "--rows", str(rows), "--table", table]
    subprocess.run(cmd, check=True)


def _out(cmd: list[str]) -> str:
    try:
        res = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"
    return (res.stdout or res.stderr).strip().splitlines()[0] if res.returncode == 0 else "n/a"


def machine_facts() -> dict[str, object]:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    disk = shutil.disk_usage("/")
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "mem_gib": round(mem_kb / 2**20, 1),
        "disk_free_gib": round(disk.free / 2**30, 1),
        "kernel": platform.release(),
        "mariadb": checks.mysql("SELECT VERSION()")[0][0],
        "postgres": checks.psql("SHOW server_version")[0][0],
        "pg_settings": dict(
            checks.psql(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN "
                "('shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'max_wal_size', "
                "'work_mem', 'maintenance_work_mem', 'full_page_writes') ORDER BY name"
            )
        ),
        "innodb_buffer_pool_mb": int(checks.mysql("SELECT @@innodb_buffer_pool_size")[0][0]) >> 20,
        "osiris": _out([OSIRIS, "--version"]),
        "python_osiris": _out([str(Path(OSIRIS).with_name("python")), "--version"]),
        "connectorx_adbc_pyarrow": _out([VENV_PY, "-c", _VERSIONS]),
        "dlt": _out([VENV_DLT, "-c", "import dlt; print(dlt.__version__)"]),
        "sling": _out([SLING, "--version"]),
        "git_head": _out(["git", "-C", str(BENCH.parent), "rev-parse", "--short", "HEAD"]),
        # The drivers under test change while the project is developed: pin what was measured.
        "driver_sha256": {
            str(p.relative_to(BENCH.parent)): hashlib.sha256(p.read_bytes()).hexdigest()[:12]
            for family in ("mysql", "postgres", "duckdb")
            for p in sorted((BENCH.parent / "osiris" / "components" / family).rglob("*.py"))
            if p.stat().st_size
        },
    }


_VERSIONS = (
    "import connectorx as c, adbc_driver_postgresql as a, pyarrow as p, pandas as d; "
    "print(c.__version__, a.__version__, p.__version__, 'pandas', d.__version__)"
)


def reset(tool: Tool) -> None:
    for sql in tool.reset_sql:
        checks.psql(sql)
    for d in tool.reset_dirs:
        shutil.rmtree(d, ignore_errors=True)
    checks.psql("CHECKPOINT")


def one_run(
    tool: Tool, run: int, *, rows: int, expected: dict[str, str], logs: Path, timeout: float
) -> dict[str, object]:
    reset(tool)
    load = Path("/proc/loadavg").read_text().split()[:3]
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    m = measure(tool.cmd, env=tool.env, log=logs / f"{tool.name}_run{run}.log", timeout=timeout)
    count = checks.count(tool.target)
    want = tool.rows or rows
    mismatched: list[str] | None = None
    if m.rc == 0 and count == want:
        mismatched = checks.compare(expected, checks.target_checksums(tool.target))
    rec: dict[str, object] = {
        "tool": tool.name,
        "run": run,
        "started": started,
        "loadavg_before": [float(x) for x in load],
        "rc": m.rc,
        "wall_s": m.wall_s,
        "max_rss_mb": m.max_rss_mb,
        "tree_rss_mb": m.tree_rss_mb,
        "user_cpu_s": m.user_cpu_s,
        "sys_cpu_s": m.sys_cpu_s,
        "db_cpu_s": m.db_cpu_s,
        "machine_busy_s": m.machine_busy_s,
        "rows_expected": want,
        "rows": count,
        "ok": m.rc == 0 and count == want,
        "checksum_mismatch": mismatched,
        # repo-relative, so recorded results name no machine's paths
        "cmd": " ".join(tool.cmd).replace(f"{ROOT}/", ""),
    }
    if m.rc != 0:
        rec["output_tail"] = m.output_tail
    return rec


def rerender(path: Path) -> None:
    """Write <results>.md again from a results file (its last invocation)."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    header = [r for r in lines if r.get("kind") == "header"][-1]
    records = [r for r in lines if r.get("kind") == "run" and r.get("stamp") == header["stamp"]]
    types = [r for r in lines if r.get("kind") == "source_types"][-1]["types"]
    source = [
        checks.ColumnType(
            name,
            text.split(" NOT NULL")[0].removesuffix(" PK"),
            "NOT NULL" in text,
            text.endswith(" PK"),
        )
        for name, text in types.items()
    ]
    known = all_tools(header["source"].split(".", 1)[1], Path("/tmp"), [])
    summary = report.render(header, records, [known[n] for n in header["tools"]], source)
    path.with_suffix(".md").write_text(summary)
    print(summary)


def _line(rec: dict[str, Any]) -> str:
    status = "ok" if rec["ok"] else f"FAILED rc={rec['rc']} rows={rec['rows']}"
    content = "exact" if rec["checksum_mismatch"] == [] else rec["checksum_mismatch"]
    return (
        f"{rec['wall_s']:8.2f}s  max RSS {rec['max_rss_mb'] or 0:6.0f} MB  "
        f"tree {rec['tree_rss_mb']:6.0f} MB  {status}  checksums: {content}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tools", default=DEFAULT_TOOLS, help=f"comma list (default {DEFAULT_TOOLS})")
    ap.add_argument("--table", help="source table in MariaDB database bench (default from --rows)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per run")
    ap.add_argument("--results", type=Path, help="JSONL file to append to")
    ap.add_argument("--report", type=Path, help="only re-render the summary of a results file")
    ap.add_argument(
        "--osiris-param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra --param for the osiris pipelines (e.g. batch_size=50000); repeatable",
    )
    a = ap.parse_args()
    if a.report:
        rerender(a.report)
        return

    table = a.table or _table_for(a.rows)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    results = a.results or BENCH / "results" / f"{stamp}_{a.rows}.jsonl"
    results.parent.mkdir(parents=True, exist_ok=True)
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"osiris-bench-{stamp}"
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)

    known = all_tools(table, work / "osiris-sessions", a.osiris_param)
    names = [n.strip() for n in a.tools.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"unknown tool(s) {', '.join(unknown)}; known: {', '.join(known)}")
    tools = []
    for n in names:
        missing = known[n].missing()
        if missing:
            print(f"skip {n}: missing {', '.join(missing)} (run bash bench/setup_peers.sh)")
        else:
            tools.append(known[n])

    ensure_dataset(table, a.rows)
    print("source checksums ...", flush=True)
    expected = {a.rows: checks.source_checksums(table)}
    for t in tools:
        if t.rows and t.rows not in expected:
            expected[t.rows] = checks.source_checksums(table, limit=t.rows)
    facts = machine_facts()
    header = {
        "kind": "header",
        "stamp": stamp,
        "rows": a.rows,
        "source": f"bench.{table}",
        "runs": a.runs,
        "tools": [t.name for t in tools],
        "machine": facts,
    }
    records: list[dict[str, Any]] = []
    with results.open("a") as out:
        out.write(json.dumps(header) + "\n")
        for run in range(1, a.runs + 1):
            for tool in tools:
                rec = one_run(
                    tool,
                    run,
                    rows=a.rows,
                    expected=expected[tool.rows or a.rows],
                    logs=logs,
                    timeout=a.timeout,
                )
                rec |= {"kind": "run", "stamp": stamp, "source_rows": a.rows}
                if run == a.runs and rec["ok"]:
                    schema, _, name = tool.target.partition(".")
                    rec["pg_types"] = {c.name: c.text() for c in checks.target_types(schema, name)}
                out.write(json.dumps(rec) + "\n")
                out.flush()
                records.append(rec)
                print(f"[run {run}] {tool.name:14} {_line(rec)}", flush=True)
        source = checks.source_types(table)
        out.write(
            json.dumps({"kind": "source_types", "types": {c.name: c.text() for c in source}}) + "\n"
        )
    summary = report.render(header, records, tools, source)
    results.with_suffix(".md").write_text(summary)
    print(summary)
    print(f"raw results: {results}\nlogs: {logs}")


if __name__ == "__main__":
    main()
