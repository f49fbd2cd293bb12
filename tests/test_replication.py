"""Whole databases in one step: `tables` in an extractor, one stream per table, written per
table by database and file writers, run side by side by the scheduler."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from osiris.session.report import report_data
from testing import db
from testing.runner_helpers import osiris_cli

pytestmark = pytest.mark.db

SOURCE = [
    "CREATE TABLE film (film_id INT PRIMARY KEY, title VARCHAR(50) NOT NULL, "
    "price DECIMAL(6,2), released DATE)",
    "CREATE TABLE film_actor (film_id INT, actor_id INT, PRIMARY KEY (film_id, actor_id))",
    "CREATE TABLE actor (actor_id INT PRIMARY KEY, name VARCHAR(40))",
    "CREATE TABLE staff (staff_id INT PRIMARY KEY, picture BLOB)",
    "CREATE VIEW film_list AS SELECT film_id, title FROM film",
    "INSERT INTO film VALUES (1, 'Alpha', 9.99, '2006-02-15'), (2, 'Beta, \"the\" sequel', "
    "NULL, NULL)",
    "INSERT INTO film_actor VALUES (1, 10), (1, 11), (2, 10)",
    "INSERT INTO actor VALUES (10, 'Ann'), (11, NULL)",
    "INSERT INTO staff VALUES (1, X'00FF10')",
]


@pytest.fixture
def source():
    with db.mysql_database() as conn:
        db.mysql_execute(conn, *SOURCE)
        yield conn


@pytest.fixture
def target():
    with db.postgres_database() as conn:
        yield conn


def project(tmp_path: Path, source, target, pipeline: str) -> dict[str, str]:
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n"
        "  mysql:\n"
        f"    src: {{host: 127.0.0.1, user: root, database: {source['database']}}}\n"
        "  postgres:\n"
        f"    dw: {{host: 127.0.0.1, user: postgres, database: {target['database']}}}\n"
    )
    (tmp_path / "p.yaml").write_text(pipeline)
    return {}


PIPELINE = """
oml_version: "0.1.0"
name: whole-db
steps:
  - id: source
    component: mysql.extractor
    mode: read
    config: {tables: ["*"], exclude_tables: ["staff"]}
  - id: copy
    component: postgres.writer
    mode: write
    needs: [source]
    config: {table_prefix: "src_", write_mode: replace}
  - id: files
    component: filesystem.csv_writer
    mode: write
    needs: [source]
    config: {path: "out/{table}.csv"}
"""


def test_every_table_is_copied_under_its_own_name(tmp_path, source, target):
    project(tmp_path, source, target, PIPELINE)
    proc = osiris_cli("run", "p.yaml", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    tables = ["actor", "film", "film_actor"]  # base tables: the view and `staff` are left out
    steps = summary["steps"]
    assert steps["source"] == {"status": "expanded", "tables": tables}
    for table in tables:
        assert steps[f"source[{table}]"]["status"] == "succeeded"
        assert steps[f"copy[{table}]"]["status"] == "succeeded"
        assert steps[f"files[{table}]"]["status"] == "succeeded"
    for table, key in (
        ("actor", "actor_id"),
        ("film", "film_id"),
        ("film_actor", "film_id, actor_id"),
    ):
        expected = db.mysql_query(source, f"SELECT * FROM {table} ORDER BY {key}")
        assert db.postgres_query(target, f"SELECT * FROM src_{table} ORDER BY {key}") == expected
    # each table keeps its own key
    keys = db.postgres_query(
        target,
        "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'p' AND connamespace = 'public'::regnamespace ORDER BY 1",
    )
    assert keys == [
        ("src_actor", "PRIMARY KEY (actor_id)"),
        ("src_film", "PRIMARY KEY (film_id)"),
        ("src_film_actor", "PRIMARY KEY (film_id, actor_id)"),
    ]
    with (tmp_path / "out" / "film.csv").open(newline="") as f:
        rows = list(csv.reader(f))
    assert rows == [
        ["film_id", "title", "price", "released"],
        ["1", "Alpha", "9.99", "2006-02-15"],
        ["2", 'Beta, "the" sequel', "", ""],
    ]
    assert sorted(summary["outputs"]) == [f"out/{t}.csv" for t in tables]
    # metrics per table
    assert (
        steps["source[film]"]["rows_read"] == 2 and steps["copy[film_actor]"]["rows_written"] == 3
    )
    # the report draws the pipeline's steps, and a timeline bar per table
    page = report_data(tmp_path / "logs" / summary["session_id"])
    assert {n["id"]: (n["tables"], n["status"]) for n in page["graph"]["nodes"]} == {
        "source": (3, "succeeded"),
        "copy": (3, "succeeded"),
        "files": (3, "succeeded"),
    }
    bars = {r["step"]: (r["status"], r["rows"]) for r in page["timeline"]}
    assert bars["source[film]"] == ("succeeded", 2)
    assert bars["copy[film_actor]"] == ("succeeded", 3)
    assert len(bars) == 9


def test_a_view_is_read_when_named_and_a_missing_name_says_what_exists(tmp_path, source, target):
    text = PIPELINE.replace('tables: ["*"], exclude_tables: ["staff"]', 'tables: ["film_list"]')
    project(tmp_path, source, target, text)
    proc = osiris_cli("run", "p.yaml", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert db.postgres_query(target, "SELECT * FROM src_film_list ORDER BY film_id") == [
        (1, "Alpha"),
        (2, 'Beta, "the" sequel'),
    ]
    project(tmp_path, source, target, text.replace("film_list", "flim"))
    proc = osiris_cli("run", "p.yaml", cwd=tmp_path)
    assert proc.returncode == 1
    assert (
        f"[table.not_found] database '{source['database']}' on MySQL at 127.0.0.1:3306 has "
        "no table 'flim'; its tables are actor, film, film_actor, staff" in proc.stderr
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            ('config: {table_prefix: "src_", write_mode: replace}', "config: {table: t}"),
            "step 'copy' → config.table: 'source' reads several tables; each is written to a "
            "table of its own name (hint: remove `table` (`table_prefix` puts a prefix before "
            "each name))",
        ),
        (
            ('{path: "out/{table}.csv"}', "{path: out/all.csv}"),
            "step 'files' → config.path: 'source' reads several tables; the path must say where "
            "each goes (hint: put {table} in the path, e.g. out/{table}.csv)",
        ),
    ],
)
def test_writers_of_several_tables_are_checked_when_compiling(
    tmp_path, source, target, change, problem
):
    project(tmp_path, source, target, PIPELINE.replace(*change))
    proc = osiris_cli("validate", "p.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert problem in proc.stderr


def test_a_broken_many_table_source_is_the_only_problem_reported(tmp_path, source, target):
    broken = PIPELINE.replace('exclude_tables: ["staff"]', "bogus: 1")
    # a postgres extractor without `connection` reads through the family's only connection
    broken += "  - {id: pg, component: postgres.extractor, mode: read, config: {table: t}}\n"
    project(tmp_path, source, target, broken)
    proc = osiris_cli("validate", "p.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    problems = [line for line in proc.stderr.splitlines() if "→" in line]
    # not also "step 'copy' → config: missing required key 'table'": copy's input is unknown
    assert len(problems) == 1, proc.stderr
    assert "step 'source' → config.bogus: unknown key 'bogus'" in problems[0]


INCREMENTAL = """
oml_version: "0.1.0"
name: incremental
steps:
  - id: events
    component: mysql.extractor
    mode: read
    config: {table: events, cursor_column: updated_at, since: auto}
  - id: load
    component: postgres.writer
    mode: write
    needs: [events]
    config: {table: events, write_mode: upsert, primary_key: [id]}
"""


def rows_read(tmp_path) -> tuple[int, dict]:
    proc = osiris_cli("run", "p.yaml", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    info = json.loads(Path(tmp_path, summary["session_dir"], "session.json").read_text())
    return summary["rows_read"], info["watermarks"]["events"]


def test_since_auto_reads_only_what_changed(tmp_path, source, target):
    db.mysql_execute(
        source,
        "CREATE TABLE events (id INT PRIMARY KEY, v VARCHAR(20), updated_at DATETIME NOT NULL)",
        "INSERT INTO events SELECT seq, CONCAT('v', seq), '2026-01-01' + INTERVAL seq MINUTE "
        "FROM seq_1_to_5000",
    )
    project(tmp_path, source, target, INCREMENTAL)

    def same() -> None:
        expected = db.mysql_query(source, "SELECT * FROM events ORDER BY id")
        assert db.postgres_query(target, "SELECT * FROM events ORDER BY id") == expected

    # no target yet: everything
    read, mark = rows_read(tmp_path)
    assert read == 5000 and mark["found"] is None and mark["since"] is None
    assert mark["new"] == "2026-01-04 11:20:00"
    same()
    # 1,000 new rows and 500 changed: about 1,500 read (and the one sharing the old maximum)
    db.mysql_execute(
        source,
        "INSERT INTO events SELECT seq, 'new', '2026-02-01' + INTERVAL seq SECOND "
        "FROM seq_5001_to_6000",
        "UPDATE events SET v = 'changed', updated_at = '2026-03-01' + INTERVAL id SECOND "
        "WHERE id <= 500",
    )
    read, mark = rows_read(tmp_path)
    assert read == 1501
    assert mark["found"] == mark["since"] == "2026-01-04 11:20:00"
    same()
    # nothing changed: only the rows at the last value
    read, mark = rows_read(tmp_path)
    assert read == 1
    same()


def test_lookback_and_what_since_auto_needs(tmp_path, source, target):
    db.mysql_execute(
        source,
        "CREATE TABLE events (id INT PRIMARY KEY, v VARCHAR(20), updated_at DATETIME NOT NULL)",
        "INSERT INTO events SELECT seq, 'x', '2026-01-01' + INTERVAL seq MINUTE FROM seq_1_to_600",
    )
    project(
        tmp_path, source, target, INCREMENTAL.replace("since: auto}", "since: auto, lookback: 1h}")
    )
    rows_read(tmp_path)
    read, mark = rows_read(tmp_path)
    assert read == 61  # the last hour, both ends included
    assert mark["since"] == "2026-01-01 09:00:00"
    no_writer = INCREMENTAL.split("  - id: load", maxsplit=1)[0]
    project(tmp_path, source, target, no_writer)
    proc = osiris_cli("validate", "p.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    assert (
        "since: auto reads the largest cursor_column value of the table this step's writer "
        "writes; the step needs exactly one database writer after it" in proc.stderr
    )
