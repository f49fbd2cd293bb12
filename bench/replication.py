"""Replication benchmarks: a whole database over a slow link, and many big copies at once.

1. Branches over a slow link: every table of a MariaDB database (MySQL's Sakila, 16 tables, when
   its SQL is in shared/data/sakila; else 16 generated tables of the same sizes) copied to
   PostgreSQL in one extractor step with `tables: ["*"]`, both servers behind a latency proxy
   (testing/latency_proxy.py, 20 ms round trip by default), with runner.max_parallel_steps 1
   (one table after another), 4 (the default) and 8, alternating, `--rounds` times each.
2. Memory of parallel copies: `--copies` (8) copies of the 1M-row bench.events table to
   PostgreSQL side by side (max_parallel_steps = copies), on the plain loopback; peak RSS of the
   osiris process tree, and of a single copy for reference.

    .venv/bin/python bench/replication.py [--rounds 3] [--rtt-ms 20] [--copies 8]

Prints a Markdown summary and appends the raw records to bench/results/replication_<time>.jsonl.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent)]

from measure import measure  # noqa: E402
from run import ensure_dataset  # noqa: E402
from tools import OSIRIS, _base_env  # noqa: E402

from testing import db, sakila  # noqa: E402
from testing.latency_proxy import delayed  # noqa: E402

WHOLE_DB = """
oml_version: "0.1.0"
name: whole-database
steps:
  - id: source
    component: mysql.extractor
    mode: read
    config: {connection: "@mysql.src", tables: ["*"]}
  - id: copy
    component: postgres.writer
    mode: write
    needs: [source]
    config: {connection: "@postgres.dw", write_mode: replace}
"""

# (table, rows) of MySQL's Sakila, for a database of the same shape when its SQL is not here
SAKILA_SIZES = [
    ("actor", 200), ("address", 603), ("category", 16), ("city", 600), ("country", 109),
    ("customer", 599), ("film", 1000), ("film_actor", 5462), ("film_category", 1000),
    ("film_text", 1000), ("inventory", 4581), ("language", 6), ("payment", 16044),
    ("rental", 16044), ("staff", 2), ("store", 2),
]  # fmt: skip


@contextlib.contextmanager
def source_database() -> Iterator[tuple[dict[str, Any], str]]:
    if sakila.available():
        with sakila.mysql_sakila() as conn:
            yield conn, "MySQL's Sakila (16 tables, 47k rows)"
        return
    with db.mysql_database() as conn:
        for table, rows in SAKILA_SIZES:
            db.mysql_execute(
                conn,
                f"CREATE TABLE {table} (id INT PRIMARY KEY, name VARCHAR(45), "
                "amount DECIMAL(5,2), updated TIMESTAMP DEFAULT CURRENT_TIMESTAMP)",
                f"INSERT INTO {table} (id, name, amount) SELECT seq, CONCAT('n', seq), "
                f"seq % 1000 / 100 FROM seq_1_to_{rows}",
            )
        yield conn, "16 generated tables of Sakila's sizes (47k rows)"


def connections(path: Path, my_port: int, my_db: str, pg_port: int, pg_db: str) -> None:
    path.write_text(
        "connections:\n"
        "  mysql:\n"
        f"    src: {{host: 127.0.0.1, port: {my_port}, user: root, database: {my_db}}}\n"
        "  postgres:\n"
        f"    dw: {{host: 127.0.0.1, port: {pg_port}, user: postgres, database: {pg_db}}}\n"
    )


def osiris_run(work: Path, parallel: int, name: str) -> dict[str, Any]:
    env = _base_env() | {"OSIRIS_RUNNER__MAX_PARALLEL_STEPS": str(parallel)}
    cmd = [OSIRIS, "run", str(work / "p.yaml"), "--connections", str(work / "c.yaml")]
    m = measure(cmd, env=env, log=work / f"{name}.log", timeout=1800)
    if m.rc != 0:
        raise SystemExit(f"{name}: osiris run failed ({m.rc}):\n" + "\n".join(m.output_tail))
    return {"run": name, "parallel": parallel, **m.__dict__}


def branches_over_a_slow_link(rounds: int, rtt: float, work: Path) -> list[dict[str, Any]]:
    records = []
    with source_database() as (source, described), db.postgres_database() as target:
        print(f"part 1: {described} over a {rtt * 1000:g} ms round trip")
        with (
            delayed("127.0.0.1", 3306, rtt=rtt) as my_port,
            delayed("127.0.0.1", 5432, rtt=rtt) as pg_port,
        ):
            (work / "p.yaml").write_text(WHOLE_DB)
            connections(work / "c.yaml", my_port, source["database"], pg_port, target["database"])
            for r in range(rounds):
                for parallel in (1, 4, 8):
                    rec = osiris_run(work, parallel, f"tables_p{parallel}_r{r}")
                    rec |= {"part": "tables", "source": described, "rtt_ms": rtt * 1000}
                    print(f"  max_parallel_steps {parallel}: {rec['wall_s']:.2f} s")
                    records.append(rec)
    return records


def copies_side_by_side(copies: int, work: Path) -> list[dict[str, Any]]:
    ensure_dataset("events", 1_000_000)
    records = []
    with db.postgres_database() as target:
        connections(work / "c.yaml", 3306, "bench", 5432, target["database"])
        for n in (1, copies):
            steps = []
            for i in range(n):
                steps.append(
                    f"  - {{id: read{i}, component: mysql.extractor, mode: read, "
                    f'config: {{connection: "@mysql.src", table: events}}}}\n'
                    f"  - {{id: write{i}, component: postgres.writer, mode: write, "
                    f'needs: [read{i}], config: {{connection: "@postgres.dw", '
                    f"table: events_{i}, write_mode: replace}}}}\n"
                )
            (work / "p.yaml").write_text(
                f'oml_version: "0.1.0"\nname: copies-{n}\nsteps:\n' + "".join(steps)
            )
            rec = osiris_run(work, n, f"copies_{n}")
            rec |= {"part": "copies", "copies": n, "rows_each": 1_000_000}
            print(
                f"part 2: {n} x 1M rows side by side: {rec['wall_s']:.1f} s, "
                f"peak tree RSS {rec['tree_rss_mb']:.0f} MB"
            )
            records.append(rec)
            counts = db.postgres_query(
                target,
                " UNION ALL ".join(f"SELECT count(*) FROM events_{i}" for i in range(n)),
            )
            assert all(c[0] == 1_000_000 for c in counts), counts
    return records


def summary(records: list[dict[str, Any]]) -> str:
    lines = []
    tables = [r for r in records if r["part"] == "tables"]
    if tables:
        one = statistics.median(r["wall_s"] for r in tables if r["parallel"] == 1)
        four = statistics.median(r["wall_s"] for r in tables if r["parallel"] == 4)
        eight = statistics.median(r["wall_s"] for r in tables if r["parallel"] == 8)
        lines += [
            f"### {tables[0]['source']}, {tables[0]['rtt_ms']:g} ms round trip",
            "",
            "| max_parallel_steps | wall (median) | speed-up |",
            "|---|---|---|",
            f"| 1 | {one:.2f} s | 1.0x |",
            f"| 4 (the default) | {four:.2f} s | {one / four:.2f}x |",
            f"| 8 | {eight:.2f} s | {one / eight:.2f}x |",
            "",
        ]
    copies = [r for r in records if r["part"] == "copies"]
    if copies:
        lines += [
            "### Copies of bench.events (1M rows) side by side",
            "",
            "| copies | wall | peak RSS, osiris tree | largest process |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['copies']} | {r['wall_s']:.1f} s | {r['tree_rss_mb']:.0f} MB | "
            f"{r['max_rss_mb']:.0f} MB |"
            for r in copies
        ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rtt-ms", type=float, default=20.0)
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--skip", choices=["tables", "copies"], help="leave one part out")
    args = ap.parse_args()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    results = BENCH / "results" / f"replication_{stamp}.jsonl"
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="osiris-bench-") as tmp:
        work = Path(tmp)
        if args.skip != "tables":
            records += branches_over_a_slow_link(args.rounds, args.rtt_ms / 1000, work)
        if args.skip != "copies":
            records += copies_side_by_side(args.copies, work)
    with results.open("a") as f:
        for rec in records:
            f.write(json.dumps(rec) + "\n")
    text = summary(records)
    results.with_suffix(".md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
