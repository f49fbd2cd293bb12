"""mysql.writer: the step's single input into a MySQL/MariaDB table.

append   one transaction for the whole run; a table created by this run is dropped again if
         the load fails.
replace  loads `<table>__osiris_<hex>` and swaps it in with one atomic RENAME TABLE; a failure
         before the swap leaves the old table as it was. The new table is built from the
         input's schema. (MySQL commits DDL implicitly, so this cannot be one transaction.)
upsert   loads a temporary table, then INSERT ... SELECT ... ON DUPLICATE KEY UPDATE in one
         transaction; when the input repeats a key, its last row wins.
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from typing import TYPE_CHECKING, Any

from osiris.components._columns import check_columns
from osiris.components._writer import rebatched, write_key, write_options
from osiris.components.api import StepContext, StepError
from osiris.components.mysql._conn import (
    Server,
    connect,
    error_parts,
    quote_ident,
    server,
    split_table,
    translate,
)
from osiris.components.mysql._load import Loader
from osiris.components.mysql._types import create_table_sql, unique_indexes

if TYPE_CHECKING:
    import pyarrow as pa
    from pymysql.connections import Connection

# Strict, so a value that does not fit is an error rather than a warning and a truncation.
_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"


class _Target:
    def __init__(self, ctx: StepContext, srv: Server, conn: Connection) -> None:
        cfg = ctx.config
        self.ctx, self.srv, self.conn = ctx, srv, conn
        self.database, self.name = split_table(cfg["table"], srv)
        self.sql = self.qualify(self.name)
        self.method = cfg.get("load_method") or "auto"

    def qualify(self, name: str) -> str:
        return f"{quote_ident(self.database)}.{quote_ident(name)}"

    @property
    def label(self) -> str:
        return f"{self.database}.{self.name}"

    def loader(self, table_sql: str, schema: pa.Schema) -> Loader:
        return Loader(
            self.conn, self.srv, table_sql, schema, method=self.method, scratch=self.ctx.scratch_dir
        )

    def execute(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def undo(self, *statements: str) -> None:
        """Roll back and clean up after a failure, without hiding that failure."""
        import pymysql

        with contextlib.suppress(pymysql.MySQLError, OSError):
            self.conn.rollback()
            for sql in statements:
                self.execute(sql)


def warm() -> None:
    """Import what `run` needs (called by a warm-started executor while the CLI compiles)."""
    import pymysql  # noqa: F401


def _server(ctx: StepContext) -> Server:
    srv = server(ctx.connection)
    schema = ctx.config.get("schema")
    return dataclasses.replace(srv, database=str(schema)) if schema else srv


def watermark(ctx: StepContext, column: str) -> Any:
    """The largest `column` in the target table; None while the table is missing or empty."""
    import pymysql

    srv = _server(ctx)
    database, name = split_table(ctx.config["table"], srv)
    conn = connect(srv, ctx.connect_timeout)
    try:
        with conn.cursor() as cur:
            table = f"{quote_ident(database)}.{quote_ident(name)}"
            cur.execute(f"SELECT MAX({quote_ident(column)}) FROM {table}")
            row = cur.fetchone()
    except pymysql.MySQLError as exc:
        number, _ = error_parts(exc)
        if number == 1146:
            return None
        if number == 1054:
            raise StepError(
                "config.invalid",
                f"cursor_column '{column}' is not a column of '{database}.{name}', the table "
                "since: auto reads it from",
            ) from None
        raise translate(exc, srv) from exc
    finally:
        conn.close()
    return row[0] if row else None


def run(ctx: StepContext) -> None:
    import pymysql

    cfg = ctx.config
    srv = _server(ctx)
    options = write_options(cfg)
    mode = options.mode
    reader = rebatched(ctx.single_input().open(), options.batch_size)
    schema = reader.schema
    pk = write_key(options, schema)
    conn = connect(srv, ctx.connect_timeout, local_infile=cfg.get("load_method") != "insert")
    try:
        target = _Target(ctx, srv, conn)
        target.execute(f"SET SESSION time_zone = '+00:00', sql_mode = '{_SQL_MODE}'")
        existing = [
            r[0]
            for r in target.execute(
                "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
                "AND TABLE_NAME = %s",
                (target.database, target.name),
            )
        ]
        if not existing and not options.create:
            raise StepError(
                "table.not_found",
                f"table '{target.label}' does not exist on MySQL at {srv.where}; create it or "
                "set `create_if_missing: true`",
            )
        if existing and mode != "replace":
            # replace builds a new table from the input's schema; the others write into this one
            check_columns(target.label, schema.names, existing)
        if existing and options.truncate and mode != "replace":
            # DELETE, not TRUNCATE: it stays in the load's transaction and rolls back with it
            target.execute(f"DELETE FROM {target.sql}")
        if mode == "append":
            _append(target, reader, pk, exists=bool(existing))
        elif mode == "replace":
            _replace(target, reader, pk, exists=bool(existing))
        else:
            _upsert(target, reader, pk, exists=bool(existing))
    except pymysql.MySQLError as exc:
        raise translate(exc, srv, writing=True) from exc
    finally:
        conn.close()


def _load(target: _Target, table_sql: str, reader: pa.RecordBatchReader) -> None:
    loader = target.loader(table_sql, reader.schema)
    try:
        for batch in reader:
            loader.write(batch)
    finally:
        loader.close()


def _append(target: _Target, reader: pa.RecordBatchReader, pk: list[str], *, exists: bool) -> None:
    if not exists:
        target.execute(create_table_sql(target.sql, reader.schema, pk))
    try:
        _load(target, target.sql, reader)
        target.conn.commit()
    except BaseException:
        target.undo(*_dropped_if_new(target, exists))
        raise


def _replace(target: _Target, reader: pa.RecordBatchReader, pk: list[str], *, exists: bool) -> None:
    token = secrets.token_hex(4)
    stage = target.qualify(f"{target.name[:40]}__osiris_{token}")
    old = target.qualify(f"{target.name[:40]}__osiris_old_{token}")
    target.execute(create_table_sql(stage, reader.schema, pk))
    try:
        _load(target, stage, reader)
        target.conn.commit()
        if exists:
            target.execute(f"RENAME TABLE {target.sql} TO {old}, {stage} TO {target.sql}")
        else:
            target.execute(f"RENAME TABLE {stage} TO {target.sql}")
    except BaseException:
        target.undo(f"DROP TABLE IF EXISTS {stage}")
        raise
    if exists:
        target.execute(f"DROP TABLE {old}")


def _upsert(target: _Target, reader: pa.RecordBatchReader, pk: list[str], *, exists: bool) -> None:
    if not exists:
        target.execute(create_table_sql(target.sql, reader.schema, pk))
    _require_unique_key(target, pk)
    names = reader.schema.names
    cols = ", ".join(quote_ident(n) for n in names)
    tmp = quote_ident(f"osiris_upsert_{secrets.token_hex(4)}")
    # osiris_seq keeps the input order, so a key repeated in the input ends with its last row.
    target.execute(
        f"CREATE TEMPORARY TABLE {tmp} (osiris_seq BIGINT AUTO_INCREMENT PRIMARY KEY) "
        f"SELECT {cols} FROM {target.sql} LIMIT 0"
    )
    updates = [n for n in names if n not in pk] or pk
    assignments = ", ".join(f"{quote_ident(n)} = VALUES({quote_ident(n)})" for n in updates)
    try:
        _load(target, tmp, reader)
        target.execute(
            f"INSERT INTO {target.sql} ({cols}) SELECT {cols} FROM {tmp} ORDER BY osiris_seq "
            f"ON DUPLICATE KEY UPDATE {assignments}"
        )
        target.conn.commit()
    except BaseException:
        target.undo(f"DROP TEMPORARY TABLE IF EXISTS {tmp}", *_dropped_if_new(target, exists))
        raise
    target.execute(f"DROP TEMPORARY TABLE {tmp}")


def _dropped_if_new(target: _Target, exists: bool) -> list[str]:
    """A failed run leaves no table it created (its DDL was committed implicitly)."""
    return [] if exists else [f"DROP TABLE IF EXISTS {target.sql}"]


def _require_unique_key(target: _Target, pk: list[str]) -> None:
    if set(pk) not in unique_indexes(target.conn, target.database, target.name):
        raise StepError(
            "config.invalid",
            f"table '{target.label}' has no PRIMARY KEY or UNIQUE index on "
            f"({', '.join(pk)}), so upsert cannot match rows; add one or change `primary_key`",
        )
