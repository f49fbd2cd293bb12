"""Many pipelines at once: eight that each wait in PostgreSQL, one vs all eight side by side.

Each pipeline is `postgres.extractor` running `select pg_sleep(S)` → a CSV file. The script
times `osiris run p0.yaml` (one), then `osiris run p0.yaml ... p7.yaml --parallel 8`, for the
local executor and for E2B (against the E2B stand-in in testing/, which runs each sandbox's
commands on this machine), alternating, `--rounds` times. After every run it checks that each
pipeline left a finalized, succeeded session and, for E2B, that every sandbox was killed.

    .venv/bin/python bench/many_runs.py [--rounds 3] [--sleep 3] [--pipelines 8]

Prints a Markdown summary and writes the raw records to bench/results/many_runs_<time>.jsonl.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from measure import measure  # noqa: E402
from tools import OSIRIS, _base_env  # noqa: E402

from testing import db  # noqa: E402
from testing.e2b_standin import E2BStandin  # noqa: E402

PIPELINE = """oml_version: "0.1.0"
name: wait-{i}
steps:
  - id: wait
    component: postgres.extractor
    mode: read
    config:
      connection: "@postgres.main"
      query: "select {i} as n, pg_sleep({sleep}) is null as slept"
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [wait]
    config: {{path: out/wait-{i}.csv}}
"""


def check(work: Path, names: list[str], standin: E2BStandin | None, created_before: int) -> None:
    sessions = [p for p in (work / "logs").iterdir() if p.is_dir()]
    recorded = [json.loads((p / "session.json").read_text("utf-8")) for p in sessions]
    mine = sorted(recorded, key=lambda s: s["started_at"])[-len(names) :]
    assert sorted(s["pipeline"]["name"] for s in mine) == sorted(names), mine
    assert all(s["status"] == "succeeded" and s.get("ended_at") for s in mine), mine
    if standin is not None:
        new = standin.history[created_before:]
        assert len(new) == len(names) and all(r.end_reason == "killed" for r in new), new
        assert standin.sandboxes == {}


def one_round(
    work: Path, executor: str, n: int, standin: E2BStandin | None, env: dict[str, str]
) -> list[dict[str, Any]]:
    records = []
    for count in (1, n):
        files = [f"p{i}.yaml" for i in range(count)]
        shutil.rmtree(work / "logs", ignore_errors=True)
        before = len(standin.history) if standin is not None else 0
        cmd = [OSIRIS, "run", *files, "--executor", executor, "--parallel", str(count)]
        m = measure(cmd, env=env, log=work / "run.log", timeout=600, cwd=work)
        if m.rc != 0:
            raise SystemExit(f"{executor} x{count} failed ({m.rc}):\n" + "\n".join(m.output_tail))
        sandboxes = standin if executor == "e2b" else None
        check(work, [f"wait-{i}" for i in range(count)], sandboxes, before)
        records.append({"executor": executor, "pipelines": count, **m.__dict__})
        print(f"  {executor}: {count} pipeline(s) in {m.wall_s:.2f} s")
    return records


def summary(records: list[dict[str, Any]], sleep: float, n: int) -> str:
    lines = [
        f"### {n} pipelines that each wait {sleep:g} s in PostgreSQL",
        "",
        f"| executor | one pipeline (median) | {n} with --parallel {n} (median) | ratio |",
        "|---|---|---|---|",
    ]
    for executor in ("local", "e2b"):
        one = statistics.median(
            r["wall_s"] for r in records if r["executor"] == executor and r["pipelines"] == 1
        )
        many = statistics.median(
            r["wall_s"] for r in records if r["executor"] == executor and r["pipelines"] == n
        )
        lines.append(f"| {executor} | {one:.2f} s | {many:.2f} s | {many / one:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sleep", type=float, default=3.0)
    ap.add_argument("--pipelines", type=int, default=8)
    args = ap.parse_args()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    results = BENCH / "results" / f"many_runs_{stamp}.jsonl"
    records: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="osiris-bench-") as tmp,
        db.postgres_database() as pg,
        E2BStandin(templates=("osiris",)) as standin,
    ):
        work = Path(tmp)
        for i in range(args.pipelines):
            (work / f"p{i}.yaml").write_text(PIPELINE.format(i=i, sleep=args.sleep))
        (work / "osiris_connections.yaml").write_text(
            "connections:\n  postgres:\n    main:\n"
            f"      {{host: 127.0.0.1, port: 5432, user: postgres, database: {pg['database']}}}\n"
        )
        env = {k: v for k, v in _base_env().items() if not k.startswith("E2B_")}
        env |= standin.env() | {"OSIRIS_WARM_START": os.environ.get("OSIRIS_WARM_START", "1")}
        for r in range(args.rounds):
            print(f"round {r + 1}")
            for executor in ("local", "e2b"):
                got = one_round(work, executor, args.pipelines, standin, env)
                records += [rec | {"round": r, "sleep_s": args.sleep} for rec in got]
    results.write_text("".join(json.dumps(r) + "\n" for r in records))
    text = summary(records, args.sleep, args.pipelines)
    results.with_suffix(".md").write_text(text + "\n")
    print(text)
    print(f"\nraw records: {results}")


if __name__ == "__main__":
    main()
