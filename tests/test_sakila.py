"""Sakila, a sample database nobody here wrote, copied whole in one step each way."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testing import db, sakila
from testing.runner_helpers import osiris_cli

pytestmark = [
    pytest.mark.db,
    pytest.mark.skipif(not sakila.available(), reason=f"Sakila's SQL is not in {sakila.DIR}"),
]

MYSQL_TO_POSTGRES = """
oml_version: "0.1.0"
name: sakila-to-postgres
steps:
  - id: sakila
    component: mysql.extractor
    mode: read
    config: {tables: ["*"]}
  - id: copy
    component: postgres.writer
    mode: write
    needs: [sakila]
    config: {write_mode: replace}
"""


def connections(tmp_path: Path, mysql: dict, postgres: dict) -> None:
    (tmp_path / "osiris_connections.yaml").write_text(
        "connections:\n"
        "  mysql:\n"
        f"    sakila: {{host: 127.0.0.1, user: root, database: {mysql['database']}}}\n"
        "  postgres:\n"
        f"    dw: {{host: 127.0.0.1, user: postgres, database: {postgres['database']}}}\n"
    )


def key_of(conn: dict, table: str) -> str:
    rows = db.mysql_query(
        conn,
        "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = "
        f"'{conn['database']}' AND TABLE_NAME = '{table}' AND CONSTRAINT_NAME = 'PRIMARY' "
        "ORDER BY ORDINAL_POSITION",
    )
    return ", ".join(r[0] for r in rows)


def test_mysql_sakila_to_postgres_in_one_step_value_for_value(tmp_path):
    with sakila.mysql_sakila() as source, db.postgres_database() as target:
        connections(tmp_path, source, target)
        (tmp_path / "p.yaml").write_text(MYSQL_TO_POSTGRES)
        proc = osiris_cli("run", "p.yaml", "--json", cwd=tmp_path, timeout=600)
        assert proc.returncode == 0, proc.stderr
        steps = json.loads(proc.stdout)["steps"]
        # every table, biggest first (so the small ones fill in at the end)
        listed = steps["sakila"]["tables"]
        assert sorted(listed) == sakila.MYSQL_TABLES
        sizes = dict(
            db.mysql_query(
                source,
                "SELECT TABLE_NAME, DATA_LENGTH FROM information_schema.TABLES "
                f"WHERE TABLE_SCHEMA = '{source['database']}'",
            )
        )
        assert [sizes[t] for t in listed] == sorted((sizes[t] for t in listed), reverse=True)
        assert listed[0] in ("payment", "rental")
        for table in sakila.MYSQL_TABLES:
            key = key_of(source, table)
            expected = db.mysql_query(source, f"SELECT * FROM {table} ORDER BY {key}")
            got = db.postgres_query(target, f"SELECT * FROM {table} ORDER BY {key}")
            assert len(got) == len(expected), table
            assert got == expected, table


POSTGRES_TO_MYSQL = """
oml_version: "0.1.0"
name: sakila-to-mysql
steps:
  - id: sakila
    component: postgres.extractor
    mode: read
    config: {connection: "@postgres.sakila", tables: ["*"]}
  - id: copy
    component: mysql.writer
    mode: write
    needs: [sakila]
    config: {connection: "@mysql.mart", write_mode: replace}
"""


def postgres_tables(conn: dict) -> list[str]:
    rows = db.postgres_query(
        conn,
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
    )
    return [r[0] for r in rows]


def as_mysql_reads(value: object) -> object:
    """A PostgreSQL value as MariaDB gives back its copy: booleans as 1/0, arrays as JSON."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def test_jooq_postgres_sakila_to_mysql_every_table_without_workarounds(tmp_path):
    with sakila.postgres_sakila() as source, db.mysql_database() as target:
        (tmp_path / "osiris_connections.yaml").write_text(
            "connections:\n"
            "  postgres:\n"
            f"    sakila: {{host: 127.0.0.1, user: postgres, database: {source['database']}}}\n"
            "  mysql:\n"
            f"    mart: {{host: 127.0.0.1, user: root, database: {target['database']}}}\n"
        )
        (tmp_path / "p.yaml").write_text(POSTGRES_TO_MYSQL)
        proc = osiris_cli("run", "p.yaml", "--json", cwd=tmp_path, timeout=600)
        assert proc.returncode == 0, proc.stderr
        tables = postgres_tables(source)
        listed = json.loads(proc.stdout)["steps"]["sakila"]["tables"]
        assert sorted(listed) == tables
        sizes = dict(
            db.postgres_query(
                source,
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace",
            )
        )
        assert [sizes[t] for t in listed] == sorted((sizes[t] for t in listed), reverse=True)
        assert {"film", "payment", "payment_p2007_01", "rental"} <= set(tables)
        for table in tables:
            columns = [
                r[0]
                for r in db.postgres_query(
                    source,
                    "SELECT attname FROM pg_attribute WHERE attrelid = "
                    f"'public.{table}'::regclass AND attnum > 0 AND NOT attisdropped "
                    "ORDER BY attnum",
                )
            ]
            # tsvector as its text; every other value as it is
            listed = ", ".join(f"{c}::text" if c == "fulltext" else c for c in columns)
            order = ", ".join(str(i + 1) for i in range(len(columns)))
            expected = db.postgres_query(source, f"SELECT {listed} FROM {table} ORDER BY {order}")
            got = db.mysql_query(target, f"SELECT * FROM {table} ORDER BY {order}")
            assert len(got) == len(expected), table
            assert got == [tuple(as_mysql_reads(v) for v in row) for row in expected], table
        film = (
            "SELECT release_year, rating, JSON_LENGTH(special_features) FROM film WHERE film_id = 1"
        )
        assert db.mysql_query(target, film) == [(2006, "PG", 2)]
        types = db.mysql_query(
            target,
            "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA "
            f"= '{target['database']}' AND TABLE_NAME = 'film' AND COLUMN_NAME IN "
            "('release_year', 'rating', 'special_features', 'fulltext') ORDER BY COLUMN_NAME",
        )
        assert types == [
            ("fulltext", "longtext"),
            ("rating", "enum('G','PG','PG-13','R','NC-17')"),
            ("release_year", "int(11)"),  # the domain `year` over integer
            ("special_features", "longtext"),  # MariaDB's JSON, holding the array
        ]
