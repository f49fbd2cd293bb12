"""postgres.writer (and supabase.writer): the step's single input into a PostgreSQL table.

Each run is one transaction on one psycopg connection, so a failure at any point leaves the
database as it was:
append   binary COPY into the table (created from the input's schema when missing).
replace  binary COPY into `<table>__osiris_<hex>`, then DROP the old table and RENAME the new
         one into its place; readers see the old rows until the commit, then the new ones.
upsert   binary COPY into a temporary table, then INSERT ... ON CONFLICT (primary_key) DO
         UPDATE; when the input repeats a key, its last row wins.
"""

from __future__ import annotations

import contextlib
import secrets
from typing import TYPE_CHECKING, Any

from osiris.components._columns import check_columns
from osiris.components._writer import write_key, write_options
from osiris.components.api import StepContext, StepError
from osiris.components.postgres._conn import (
    Server,
    connect_writer,
    quote_ident,
    server,
    split_table,
    translate,
)
from osiris.components.postgres._ddl import create_table_sql, database_types, primary_key_sql
from osiris.components.postgres._load import TargetColumn, load, target_columns

if TYPE_CHECKING:
    import pyarrow as pa
    from psycopg import Cursor


class _Target:
    def __init__(self, cfg: dict[str, Any], srv: Server) -> None:
        self.schema, self.name = split_table(cfg["table"], cfg.get("schema") or srv.schema)
        self.sql = self.qualify(self.name)
        arrays = cfg.get("json_arrays") or {}
        self.json_arrays: dict[str, str] = (
            dict.fromkeys(arrays, "text") if isinstance(arrays, list) else dict(arrays)
        )

    def qualify(self, name: str) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(name)}"

    def create_table(self, cur: Cursor, qualified: str, schema: pa.Schema, pk: list[str]) -> None:
        missing = [c for c in self.json_arrays if c not in schema.names]
        if missing:
            raise StepError(
                "config.invalid",
                f"`json_arrays` names {', '.join(map(repr, missing))}, which the input does not "
                f"have; its columns are {', '.join(schema.names)}",
            )
        types = database_types(cur, self.schema, schema, self.json_arrays)
        cur.execute(create_table_sql(qualified, schema, pk, types))

    @property
    def label(self) -> str:
        return f"{self.schema}.{self.name}"


def warm() -> None:
    """Import what `run` needs (called by a warm-started executor while the CLI compiles)."""
    import pgpq  # noqa: F401
    import psycopg  # noqa: F401


def watermark(ctx: StepContext, column: str) -> Any:
    """The largest `column` in the target table; None while the table is missing or empty."""
    import psycopg

    srv = server(ctx.connection, ctx.connect_timeout, ctx.component)
    target = _Target(ctx.config, srv)
    conn = connect_writer(srv)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass($1)", (target.sql,))
            row = cur.fetchone()
            if not row or row[0] is None:
                return None
            cur.execute(f"SELECT MAX({quote_ident(column)}) FROM {target.sql}")
            found = cur.fetchone()
    except psycopg.Error as exc:
        if getattr(exc, "sqlstate", None) == "42703":
            raise StepError(
                "config.invalid",
                f"cursor_column '{column}' is not a column of '{target.label}', the table "
                "since: auto reads it from",
            ) from None
        raise translate(exc, srv) from None
    finally:
        conn.close()
    return found[0] if found else None


def run(ctx: StepContext) -> None:
    import psycopg

    cfg = ctx.config
    srv = server(ctx.connection, ctx.connect_timeout, ctx.component)
    options = write_options(cfg)
    mode = options.mode
    target = _Target(cfg, srv)
    reader = ctx.single_input().open()
    pk = write_key(options, reader.schema)
    conn = connect_writer(srv)
    try:
        cur = conn.cursor()
        try:
            existing = target_columns(cur, target.schema, target.name)
            if not existing and not options.create:
                raise StepError(
                    "table.not_found",
                    f"table '{target.label}' does not exist on {srv.product} at {srv.where}; "
                    "create it or set `create_if_missing: true`",
                )
            if existing and mode != "replace":
                # replace builds a new table from the input's schema; the others write into it
                check_columns(target.label, reader.schema.names, existing)
            if existing and options.truncate and mode != "replace":
                cur.execute(f"DELETE FROM {target.sql}")  # TRUNCATE would lock out readers
            if mode == "append":
                _append(cur, target, reader, pk, existing)
            elif mode == "replace":
                _replace(cur, target, reader, pk, bool(existing))
            else:
                keep = cfg.get("prefer") == "resolution=ignore-duplicates"
                _upsert(cur, target, reader, pk, existing, keep_existing=keep)
            conn.commit()
        except BaseException:
            # a broken connection cannot roll back; the server does it when the connection ends
            with contextlib.suppress(psycopg.Error):
                conn.rollback()
            raise
        finally:
            cur.close()
    except psycopg.Error as exc:
        raise translate(exc, srv, writing=True) from None
    finally:
        conn.close()


def _append(
    cur: Cursor,
    target: _Target,
    reader: pa.RecordBatchReader,
    pk: list[str],
    existing: dict[str, TargetColumn],
) -> None:
    if existing:
        load(cur, target.sql, reader, existing)
        return
    _create_and_load(cur, target, target.name, reader, pk)


def _create_and_load(
    cur: Cursor, target: _Target, name: str, reader: pa.RecordBatchReader, pk: list[str]
) -> None:
    """Create table `name` in the target's schema from the input's schema, load the input into
    it, then add the primary key (one index build after the load, not per row)."""
    qualified = target.qualify(name)
    target.create_table(cur, qualified, reader.schema, pk)
    load(cur, qualified, reader, target_columns(cur, target.schema, name))
    if pk:
        _add_primary_key(cur, qualified, pk)


def _replace(
    cur: Cursor, target: _Target, reader: pa.RecordBatchReader, pk: list[str], exists: bool
) -> None:
    stage = f"{target.name[:40]}__osiris_{secrets.token_hex(4)}"
    _create_and_load(cur, target, stage, reader, pk)
    if exists:
        cur.execute(f"DROP TABLE {target.sql}")
    cur.execute(f"ALTER TABLE {target.qualify(stage)} RENAME TO {quote_ident(target.name)}")
    cur.execute(
        "SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'",
        (target.sql,),
    )
    row = cur.fetchone()
    if row:
        cur.execute(
            f"ALTER TABLE {target.sql} RENAME CONSTRAINT {quote_ident(row[0])} "
            f"TO {quote_ident(target.name[:58] + '_pkey')}"
        )


def _upsert(
    cur: Cursor,
    target: _Target,
    reader: pa.RecordBatchReader,
    pk: list[str],
    existing: dict[str, TargetColumn],
    *,
    keep_existing: bool = False,
) -> None:
    if not existing:
        target.create_table(cur, target.sql, reader.schema, pk)
        cur.execute(primary_key_sql(target.sql, pk))
        existing = target_columns(cur, target.schema, target.name)
    _require_unique_key(cur, target, pk)
    tmp = quote_ident(f"osiris_upsert_{secrets.token_hex(4)}")
    # osiris_seq keeps the input order, so a key repeated in the input ends with its last row.
    cur.execute(
        f"CREATE TEMPORARY TABLE {tmp} (LIKE {target.sql} INCLUDING DEFAULTS, "
        "osiris_seq bigserial) ON COMMIT DROP"
    )
    load(cur, tmp, reader, existing)
    names = reader.schema.names
    cols = ", ".join(quote_ident(n) for n in names)
    keys = ", ".join(quote_ident(n) for n in pk)
    updates = [n for n in names if n not in pk]
    action = (
        "DO UPDATE SET "
        + ", ".join(f"{quote_ident(n)} = EXCLUDED.{quote_ident(n)}" for n in updates)
        if updates and not keep_existing
        else "DO NOTHING"
    )
    cur.execute(
        f"INSERT INTO {target.sql} ({cols}) SELECT DISTINCT ON ({keys}) {cols} "
        f"FROM pg_temp.{tmp} ORDER BY {keys}, osiris_seq DESC ON CONFLICT ({keys}) {action}"
    )
    cur.execute(f"DROP TABLE pg_temp.{tmp}")


def _require_unique_key(cur: Cursor, target: _Target, pk: list[str]) -> None:
    cur.execute(
        "SELECT array_agg(a.attname::text) FROM pg_index i "
        "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = $1::regclass AND i.indisunique GROUP BY i.indexrelid",
        (target.sql,),
    )
    if set(pk) not in [set(r[0]) for r in cur.fetchall()]:
        raise StepError(
            "config.invalid",
            f"table '{target.label}' has no PRIMARY KEY or UNIQUE constraint on "
            f"({', '.join(pk)}), so upsert cannot match rows; add one or change `primary_key`",
        )


# The key of a freshly loaded table is built in one sort; with PostgreSQL's default
# maintenance_work_mem (64MB) a million keys already spill to disk. Raised for this transaction
# only, never lowered.
INDEX_BUILD_MEMORY = 256 << 20


def _add_primary_key(cur: Cursor, qualified: str, pk: list[str]) -> None:
    cur.execute(
        "SELECT pg_size_bytes(current_setting('maintenance_work_mem')) < $1", (INDEX_BUILD_MEMORY,)
    )
    row = cur.fetchone()
    if row and row[0]:
        cur.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY >> 20}MB'")
    cur.execute(primary_key_sql(qualified, pk))
