"""Upstream Osiris's own example pipelines, unchanged, against MariaDB and PostgreSQL.

The pipelines and their provenance are in testing/osiris_examples/. Each runs through the real
`osiris run` in a working directory holding the pipeline and an ADR-0020-shaped connection
file; outputs and target tables are compared value by value with the source database.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testing import db
from testing.runner_helpers import osiris_cli

pytestmark = pytest.mark.db

EXAMPLES = Path(__file__).resolve().parents[1] / "testing" / "osiris_examples"
TABLES = {
    "actors": "actor_id",
    "directors": "director_id",
    "movie_actors": "movie_id, actor_id",
    "movies": "movie_id",
    "reviews": "review_id",
}
KEY = "sb-service-role-key-Kx93"  # a secret: must never reach a file
PG_PASSWORD = "pg-password-Wv27"  # in the DSN; trust auth ignores it, no file may hold it


@pytest.fixture
def movies() -> Iterator[dict[str, Any]]:
    with db.mysql_database() as conn:
        statements = [s for s in (EXAMPLES / "movies.sql").read_text().split(";\n") if s.strip()]
        db.mysql_execute(conn, *statements)
        yield conn


@pytest.fixture
def pg() -> Iterator[dict[str, Any]]:
    with db.postgres_database() as conn:
        yield conn


@pytest.fixture
def project(tmp_path, movies, pg):
    """A working directory as a user has it, and the environment the connection file reads."""
    shutil.copy(EXAMPLES / "osiris_connections.yaml", tmp_path)
    env = {
        "MYSQL_DATABASE": movies["database"],
        "MYSQL_PASSWORD": "",
        "SUPABASE_SERVICE_ROLE_KEY": KEY,
        "SUPABASE_PG_DSN": f"postgresql://postgres:{PG_PASSWORD}@127.0.0.1:5432/{pg['database']}",
    }
    return tmp_path, env, movies, pg


def run(project, name: str) -> dict[str, Any]:
    cwd, env, _, _ = project
    shutil.copy(EXAMPLES / f"{name}.yaml", cwd)
    proc = osiris_cli("run", f"{name}.yaml", "--json", cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    summary = json.loads(proc.stdout)
    assert summary["status"] == "succeeded"
    return summary


def mysql_rows(conn: dict[str, Any], sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import pymysql

    link = pymysql.connect(**{k: v for k, v in conn.items() if k != "port"}, port=conn["port"])
    try:
        with link.cursor() as cur:
            cur.execute(sql)
            return [d[0] for d in cur.description], list(cur.fetchall())
    finally:
        link.close()


def pg_rows(conn: dict[str, Any], sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    import psycopg

    fields = {k: v for k, v in conn.items() if k != "database"}
    with psycopg.connect(**fields, dbname=conn["database"]) as link, link.cursor() as cur:
        cur.execute(sql)
        assert cur.description is not None
        return [d.name for d in cur.description], list(cur.fetchall())


def same_text(cell: str, value: Any) -> bool:
    """A CSV cell holds `value` (read back by its type, not by its formatting)."""
    if value is None:
        return cell == ""
    if isinstance(value, bool):
        return cell.lower() == str(value).lower()
    if isinstance(value, int):
        return int(cell) == value
    if isinstance(value, decimal.Decimal):
        return decimal.Decimal(cell) == value
    if isinstance(value, dt.datetime):
        return dt.datetime.fromisoformat(cell) == value
    if isinstance(value, dt.date):
        return dt.date.fromisoformat(cell) == value
    return cell == value


def assert_csv_is(
    path: Path, columns: list[str], rows: list[tuple[Any, ...]], key: list[int] | None = None
) -> None:
    """The CSV holds `rows` under `columns`; in key order (integer columns `key`) if given."""
    with path.open(newline="", encoding="utf-8") as f:
        read = list(csv.reader(f))
    assert read[0] == columns
    body = read[1:]
    if key is not None:
        body.sort(key=lambda cells: [int(cells[i]) for i in key])
    assert len(body) == len(rows)
    for cells, row in zip(body, rows, strict=True):
        for column, cell, value in zip(columns, cells, row, strict=True):
            assert same_text(cell, value), f"{path.name}: {column}: {cell!r} != {value!r}"


def assert_no_secret_on_disk(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert KEY.encode() not in data, path
            assert PG_PASSWORD.encode() not in data, path


def test_mysql_to_local_csv_all_tables(project):
    cwd, _, movies, _ = project
    summary = run(project, "mysql_to_local_csv_all_tables")
    assert summary["rows_written"] == summary["rows_read"] == 6 + 6 + 14 + 14 + 7
    for table, key in TABLES.items():
        columns, rows = mysql_rows(movies, f"SELECT * FROM {table} ORDER BY {key}")
        # `./output/<table>.csv` relative to the working directory, as upstream writes it; the
        # queries name no order, so the rows are compared in key order
        order = [columns.index(k.strip()) for k in key.split(",")]
        assert_csv_is(cwd / "output" / f"{table}.csv", columns, rows, key=order)
    assert sorted(summary["outputs"]) == sorted(f"output/{t}.csv" for t in TABLES)
    assert_no_secret_on_disk(cwd)


def test_mysql_to_supabase_all_tables(project):
    cwd, _, movies, pg = project
    run(project, "mysql_to_supabase_all_tables")
    for table, key in TABLES.items():
        assert pg_rows(pg, f"SELECT * FROM {table} ORDER BY {key}") == mysql_rows(
            movies, f"SELECT * FROM {table} ORDER BY {key}"
        )
    assert_no_secret_on_disk(cwd)


def expected_director_stats(movies: dict[str, Any]) -> list[dict[str, Any]]:
    """The demo's DuckDB aggregation, computed here in Python from the source rows."""
    _, rows = mysql_rows(
        movies,
        "SELECT m.director_id, d.name, d.nationality, m.genre, m.runtime_minutes, "
        "m.release_year, m.budget_usd, m.box_office_usd FROM movies m "
        "JOIN directors d ON m.director_id = d.director_id WHERE m.director_id IS NOT NULL",
    )
    groups: dict[tuple[Any, ...], list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        if row[6] is not None and row[7] is not None:
            groups[row[:3]].append(row)

    def rnd(value: decimal.Decimal, places: int) -> decimal.Decimal:
        return value.quantize(decimal.Decimal(1).scaleb(-places), decimal.ROUND_HALF_UP)

    def avg(values: list[Any]) -> decimal.Decimal:
        return sum(map(decimal.Decimal, values)) / len(values)

    stats = []
    for (director_id, name, nationality), group in groups.items():
        ratios = [r[7] / r[6] for r in group if r[6] != 0]
        stats.append(
            {
                "director_id": director_id,
                "director_name": name,
                "director_nationality": nationality,
                "movie_count": len(group),
                "unique_genres": len({r[3] for r in group}),
                "avg_runtime_minutes": rnd(avg([r[4] for r in group]), 1),
                "first_movie_year": min(r[5] for r in group),
                "latest_movie_year": max(r[5] for r in group),
                "avg_budget_usd": rnd(avg([r[6] for r in group]), 0),
                "avg_box_office_usd": rnd(avg([r[7] for r in group]), 0),
                "total_box_office_usd": rnd(sum(r[7] for r in group), 0),
                "avg_roi_ratio": rnd(avg(ratios), 2) if ratios else None,
            }
        )
    return sorted(stats, key=lambda s: s["director_id"])


def assert_stats(pg: dict[str, Any], table: str, expected: list[dict[str, Any]]) -> None:
    columns, rows = pg_rows(pg, f"SELECT * FROM {table} ORDER BY director_id")
    assert columns == list(expected[0])
    assert len(rows) == len(expected)
    for row, want in zip(rows, expected, strict=True):
        for column, value in zip(columns, row, strict=True):
            wanted = want[column]
            if isinstance(wanted, decimal.Decimal):
                assert value is not None and abs(decimal.Decimal(str(value)) - wanted) < 1e-6, (
                    f"{table}.{column} of director {want['director_id']}: {value} != {wanted}"
                )
            else:
                assert value == wanted, f"{table}.{column}: {value!r} != {wanted!r}"


def test_mysql_duckdb_supabase_demo(project):
    cwd, _, movies, pg = project
    run(project, "mysql_duckdb_supabase_demo")
    expected = expected_director_stats(movies)
    assert_stats(pg, "director_stats_replace", expected)
    # replace again: the table holds this run's rows, and keeps its primary key
    run(project, "mysql_duckdb_supabase_demo")
    assert_stats(pg, "director_stats_replace", expected)
    _, key = pg_rows(
        pg,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'director_stats_replace'::regclass "
        "AND i.indisprimary",
    )
    assert key == [("director_id",)]
    assert_no_secret_on_disk(cwd)


def test_mysql_duckdb_supabase_append(project):
    cwd, _, movies, pg = project
    run(project, "mysql_duckdb_supabase_append")
    assert_stats(pg, "director_stats_append", expected_director_stats(movies))
    assert_no_secret_on_disk(cwd)


def test_mysql_duckdb_supabase_debug(project):
    cwd, _, movies, pg = project
    summary = run(project, "mysql_duckdb_supabase_debug")
    expected = expected_director_stats(movies)
    assert_stats(pg, "director_stats_replace", expected)
    assert sorted(summary["outputs"]) == [
        "debug_out/duckdb_output.csv",
        "debug_out/final_output_to_supabase.csv",
        "debug_out/mysql_extract.csv",
    ]
    out = cwd / "debug_out"
    assert (out / "duckdb_output.csv").read_bytes() == (
        out / "final_output_to_supabase.csv"
    ).read_bytes()
    with (out / "duckdb_output.csv").open(newline="", encoding="utf-8") as f:
        stats = list(csv.DictReader(f))
    # ORDER BY total_box_office_usd DESC, as the query says
    totals = [decimal.Decimal(s["total_box_office_usd"]) for s in stats]
    assert totals == sorted(totals, reverse=True)
    by_id = {int(s["director_id"]): s for s in stats}
    for want in expected:
        got = by_id[want["director_id"]]
        assert got["director_name"] == want["director_name"]
        assert int(got["movie_count"]) == want["movie_count"]
    with (out / "mysql_extract.csv").open(newline="", encoding="utf-8") as f:
        extract = list(csv.DictReader(f))
    assert sorted(int(r["movie_id"]) for r in extract) == [m for m in range(1, 15) if m != 13]
    assert b"\r\n" not in (out / "mysql_extract.csv").read_bytes()  # newline: lf
    assert_no_secret_on_disk(cwd)


@pytest.mark.parametrize("name", ["pipeline_format_single_step", "pipeline_format_multi_source"])
def test_pipeline_format_reference_pipelines_validate(project, name):
    cwd, env, _, _ = project
    shutil.copy(EXAMPLES / f"{name}.yaml", cwd)
    proc = osiris_cli("validate", f"{name}.yaml", cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{name}.yaml: ok (")


def test_every_upstream_example_validates_unchanged(project):
    cwd, env, _, _ = project
    names = sorted(p.name for p in EXAMPLES.glob("*.yaml") if p.name != "osiris_connections.yaml")
    for name in names:
        shutil.copy(EXAMPLES / name, cwd)
    proc = osiris_cli("validate", *names, "--format", "json", cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [p["valid"] for p in json.loads(proc.stdout)["pipelines"]] == [True] * len(names)


REST_CONNECTIONS = """
version: 1
connections:
  mysql:
    db_movies:
      default: true
      host: 127.0.0.1
      database: ${MYSQL_DATABASE}
      username: root
      password: ${MYSQL_PASSWORD}
  supabase:
    main:
      default: true
      url: ${SUPABASE_URL}
      service_role_key: ${SUPABASE_SERVICE_ROLE_KEY}
"""
STATS_TABLE = """
CREATE TABLE director_stats_replace (
  director_id integer PRIMARY KEY, director_name varchar(100), director_nationality varchar(50),
  movie_count bigint, unique_genres bigint, avg_runtime_minutes double precision,
  first_movie_year smallint, latest_movie_year smallint, avg_budget_usd double precision,
  avg_box_office_usd double precision, total_box_office_usd numeric,
  avg_roi_ratio double precision
)
"""


def test_the_demo_over_supabases_rest_api(project):
    from testing.postgrest_standin import PostgrestStandin, postgres_dsn

    cwd, env, movies, pg = project
    (cwd / "osiris_connections.yaml").write_text(REST_CONNECTIONS)
    shutil.copy(EXAMPLES / "mysql_duckdb_supabase_demo.yaml", cwd)
    with PostgrestStandin(postgres_dsn(pg), key=KEY) as standin:
        env = {**env, "SUPABASE_URL": standin.url}
        # the REST API cannot create the table: a clear error, naming what to add
        failed = osiris_cli("run", "mysql_duckdb_supabase_demo.yaml", cwd=cwd, env=env)
        assert failed.returncode == 1
        assert "[config.invalid]" in failed.stderr and "add `pg_dsn`" in failed.stderr
        db.postgres_execute(
            pg, STATS_TABLE, "INSERT INTO director_stats_replace (director_id) VALUES (99)"
        )
        standin.fail_next(status=429, retry_after=0, method="POST")
        standin.drop_next(method="DELETE")
        ran = osiris_cli("run", "mysql_duckdb_supabase_demo.yaml", cwd=cwd, env=env)
        assert ran.returncode == 0, ran.stderr
        assert_stats(pg, "director_stats_replace", expected_director_stats(movies))
        assert any(r.fault == "status" for r in standin.requests)
    assert_no_secret_on_disk(cwd)
