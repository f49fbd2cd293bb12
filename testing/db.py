"""Real-database helpers for tests: a fresh database per test on the local MariaDB and PostgreSQL
servers (127.0.0.1:3306 root without password, 127.0.0.1:5432 postgres with trust), dropped
afterwards, so tests run in parallel and leave nothing behind. Plus the small pieces needed to
call a driver directly: a StepContext and an InputHandle over Arrow batches.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

# the driver-calling helpers live in step_helpers; the DB tests reach them through here
from testing.step_helpers import ArrowInput, run_step, step_context

__all__ = [
    "ArrowInput",
    "InjectedFailure",
    "closed_port",
    "failing_after",
    "mysql_database",
    "mysql_execute",
    "mysql_insert",
    "mysql_query",
    "mysql_user",
    "postgres_database",
    "postgres_execute",
    "postgres_query",
    "run_step",
    "silent_server",
    "step_context",
    "unique_name",
]

MYSQL: dict[str, Any] = {"host": "127.0.0.1", "port": 3306, "user": "root", "password": ""}
POSTGRES: dict[str, Any] = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


def unique_name(prefix: str = "osiris_t") -> str:
    return f"{prefix}_{secrets.token_hex(6)}"


@contextlib.contextmanager
def mysql_database() -> Iterator[dict[str, Any]]:
    """A new utf8mb4 database; yields the connection fields a driver gets."""
    name = unique_name()
    mysql_execute(MYSQL, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield {**MYSQL, "database": name}
    finally:
        mysql_execute(MYSQL, f"DROP DATABASE IF EXISTS `{name}`")


def _my(conn: dict[str, Any], *, autocommit: bool = False) -> Any:
    import pymysql

    return pymysql.connect(
        host=conn["host"],
        port=int(conn["port"]),
        user=conn["user"],
        password=conn.get("password") or "",
        database=conn.get("database"),
        charset="utf8mb4",
        autocommit=autocommit,
    )


def mysql_execute(conn: dict[str, Any], *statements: str) -> None:
    db = _my(conn, autocommit=True)
    try:
        with db.cursor() as cur:
            for sql in statements:
                cur.execute(sql)
    finally:
        db.close()


def mysql_query(conn: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    db = _my(conn)
    try:
        with db.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        db.close()


def mysql_insert(conn: dict[str, Any], table: str, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (dicts, columns from the first one) with one executemany, then commit."""
    cols = list(rows[0])
    marks = ", ".join(["%s"] * len(cols))
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"
    db = _my(conn)
    try:
        with db.cursor() as cur:
            cur.executemany(sql, [[r[c] for c in cols] for r in rows])
        db.commit()
    finally:
        db.close()


@contextlib.contextmanager
def mysql_user(password: str) -> Iterator[str]:
    """A throw-away user with `password` and no privileges; yields its name."""
    name = unique_name("osiris_u")
    for host in ("%", "localhost", "127.0.0.1"):
        mysql_execute(MYSQL, f"CREATE USER '{name}'@'{host}' IDENTIFIED BY '{password}'")
    try:
        yield name
    finally:
        for host in ("%", "localhost", "127.0.0.1"):
            mysql_execute(MYSQL, f"DROP USER IF EXISTS '{name}'@'{host}'")


@contextlib.contextmanager
def postgres_database() -> Iterator[dict[str, Any]]:
    """A new database; yields the connection fields a driver gets."""
    name = unique_name()
    postgres_execute(POSTGRES, f'CREATE DATABASE "{name}"', autocommit=True)
    try:
        yield {**POSTGRES, "database": name}
    finally:
        drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
        postgres_execute(POSTGRES, drop, autocommit=True)


def _pg(conn: dict[str, Any], *, autocommit: bool = False) -> Any:
    import psycopg

    return psycopg.connect(
        host=conn["host"],
        port=int(conn["port"]),
        user=conn["user"],
        dbname=conn.get("database") or "postgres",
        autocommit=autocommit,
    )


def postgres_execute(conn: dict[str, Any], *statements: str, autocommit: bool = False) -> None:
    with _pg(conn, autocommit=autocommit) as db:
        for sql in statements:
            db.execute(sql)


def postgres_query(conn: dict[str, Any], sql: str) -> list[tuple[Any, ...]]:
    with _pg(conn) as db:
        return list(db.execute(sql).fetchall())


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A local TCP port nothing listens on (held bound, so no one else takes it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A local port that accepts TCP connections and never says a word (for timeouts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


class InjectedFailure(Exception):
    """Raised by `failing_after` in the middle of a stream."""


def failing_after(table: pa.Table, n_batches: int, *, batch_rows: int = 10) -> ArrowInput:
    """An input that yields `n_batches` batches of `table` and then fails."""

    def batches() -> Iterator[pa.RecordBatch]:
        for i, batch in enumerate(table.to_batches(max_chunksize=batch_rows)):
            if i == n_batches:
                raise InjectedFailure(f"injected failure after {n_batches} batches")
            yield batch
        raise InjectedFailure("injected failure at the end of the input")

    return ArrowInput(table.schema, batches())
