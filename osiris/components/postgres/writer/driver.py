"""postgres.writer (and supabase.writer's database channel): the step's single input into a
PostgreSQL table.

The write modes are the shared SQL writer's (osiris.components._sqlwriter); this is
PostgreSQL's dialect for it. Each write is one transaction on one psycopg connection, DDL
included, so a failure at any point leaves the database as it was; `replace` drops the old table
and renames the new one into its place inside it, so readers see the old rows until the commit.
Rows travel by binary COPY (`_load`).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from osiris.components import _sqlwriter
from osiris.components._sqlwriter import Table, UnknownColumn
from osiris.components.api import StepContext, StepError
from osiris.components.postgres._conn import (
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

    from osiris.components._writer import WriteOptions

_NO_SUCH_COLUMN = "42703"
# The key of a freshly loaded table is built in one sort; with PostgreSQL's default
# maintenance_work_mem (64MB) a million keys already spill to disk. Raised for this transaction
# only, never lowered.
INDEX_BUILD_MEMORY = 256 << 20


def warm() -> None:
    """Import what `run` needs (called by a warm-started executor while the CLI compiles)."""
    import pgpq  # noqa: F401
    import psycopg  # noqa: F401


def run(ctx: StepContext) -> None:
    _sqlwriter.write(ctx, lambda options: PostgresDialect(ctx, options))


def watermark(ctx: StepContext, column: str) -> Any:
    """The largest `column` in the target table; None while the table is missing or empty."""
    return _sqlwriter.largest(ctx, lambda options: PostgresDialect(ctx, options), column)


class PostgresDialect:
    """PostgreSQL (and Supabase's Postgres) for the shared SQL writer, over one psycopg
    connection with `$1` placeholders."""

    transactional_ddl = True

    def __init__(self, ctx: StepContext, options: WriteOptions) -> None:
        import psycopg

        del options  # nothing PostgreSQL needs to know before it connects
        self.errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        self.srv = server(ctx.connection, ctx.connect_timeout, ctx.component)
        self.product, self.where = self.srv.product, self.srv.where
        self.schema = ctx.config.get("schema") or self.srv.schema
        arrays = ctx.config.get("json_arrays") or {}
        self.json_arrays: dict[str, str] = (
            dict.fromkeys(arrays, "text") if isinstance(arrays, list) else dict(arrays)
        )
        self.conn = connect_writer(self.srv)
        self.cur = self.conn.cursor()
        # the columns of each table loaded into, by its SQL name (a temporary table has those
        # of the table it is made like)
        self._columns: dict[str, dict[str, TargetColumn]] = {}

    def table(self, name: str) -> Table:
        schema, bare = split_table(name, self.schema)
        return Table(schema, bare, f"{quote_ident(schema)}.{quote_ident(bare)}")

    def sibling(self, table: Table, name: str) -> Table:
        return Table(table.namespace, name, f"{quote_ident(table.namespace)}.{quote_ident(name)}")

    def columns(self, table: Table) -> list[str]:
        return list(self._target(table))

    def execute(self, sql: str) -> None:
        self.cur.execute(sql)

    def create_table(self, table: Table, schema: pa.Schema, pk: list[str]) -> None:
        missing = [c for c in self.json_arrays if c not in schema.names]
        if missing:
            raise StepError(
                "config.invalid",
                f"`json_arrays` names {', '.join(map(repr, missing))}, which the input does not "
                f"have; its columns are {', '.join(schema.names)}",
            )
        types = database_types(self.cur, table.namespace, schema, self.json_arrays)
        # the key comes after the load: one sorted index build beats a B-tree insert per row
        self.execute(create_table_sql(table.sql, schema, pk, types))
        self._columns.pop(table.sql, None)

    def key_after_load(self, table: Table, pk: list[str]) -> None:
        self.cur.execute(
            "SELECT pg_size_bytes(current_setting('maintenance_work_mem')) < $1",
            (INDEX_BUILD_MEMORY,),
        )
        row = self.cur.fetchone()
        if row and row[0]:
            self.execute(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY >> 20}MB'")
        self.execute(primary_key_sql(table.sql, pk))

    def load(self, table: Table, reader: pa.RecordBatchReader) -> None:
        load(self.cur, table.sql, reader, self._target(table))

    def unique_keys(self, table: Table) -> list[set[str]]:
        self.cur.execute(
            "SELECT array_agg(a.attname::text) FROM pg_index i "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
            "WHERE i.indrelid = $1::regclass AND i.indisunique GROUP BY i.indexrelid",
            (table.sql,),
        )
        return [set(r[0]) for r in self.cur.fetchall()]

    def merge_stage(self, table: Table, names: list[str]) -> Table:
        del names  # the stage has every column of the table; the input fills some
        name = f"osiris_upsert_{secrets.token_hex(4)}"
        stage = Table("pg_temp", name, f"pg_temp.{quote_ident(name)}", temporary=True)
        self.execute(
            f"CREATE TEMPORARY TABLE {quote_ident(name)} (LIKE {table.sql} INCLUDING DEFAULTS, "
            "osiris_seq bigserial) ON COMMIT DROP"
        )
        self._columns[stage.sql] = self._target(table)
        return stage

    def merge(
        self, stage: Table, table: Table, names: list[str], pk: list[str], *, keep: bool
    ) -> None:
        cols = ", ".join(quote_ident(n) for n in names)
        keys = ", ".join(quote_ident(n) for n in pk)
        updates = [n for n in names if n not in pk]
        action = (
            "DO UPDATE SET "
            + ", ".join(f"{quote_ident(n)} = EXCLUDED.{quote_ident(n)}" for n in updates)
            if updates and not keep
            else "DO NOTHING"
        )
        # DISTINCT ON keeps one row per key (ON CONFLICT refuses to touch a row twice): the last
        self.execute(
            f"INSERT INTO {table.sql} ({cols}) SELECT DISTINCT ON ({keys}) {cols} "
            f"FROM {stage.sql} ORDER BY {keys}, osiris_seq DESC ON CONFLICT ({keys}) {action}"
        )

    def swap(self, stage: Table, table: Table, *, exists: bool) -> None:
        if exists:
            self.execute(f"DROP TABLE {table.sql}")
        self.execute(f"ALTER TABLE {stage.sql} RENAME TO {quote_ident(table.name)}")
        self.cur.execute(
            "SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'",
            (table.sql,),
        )
        row = self.cur.fetchone()
        if row:
            self.execute(
                f"ALTER TABLE {table.sql} RENAME CONSTRAINT {quote_ident(row[0])} "
                f"TO {quote_ident(table.name[:58] + '_pkey')}"
            )

    def drop(self, table: Table) -> None:
        self.execute(f"DROP TABLE IF EXISTS {table.sql}")

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        # a broken connection cannot roll back; the server does it when the connection ends
        self.conn.rollback()

    def close(self) -> None:
        self.cur.close()
        self.conn.close()

    def translate(self, exc: BaseException, *, writing: bool) -> StepError:
        return translate(exc, self.srv, writing=writing)

    def largest(self, table: Table, column: str) -> Any:
        import psycopg

        self.cur.execute("SELECT to_regclass($1)", (table.sql,))
        row = self.cur.fetchone()
        if not row or row[0] is None:
            return None
        try:
            self.cur.execute(f"SELECT MAX({quote_ident(column)}) FROM {table.sql}")
        except psycopg.Error as exc:
            if getattr(exc, "sqlstate", None) == _NO_SUCH_COLUMN:
                raise UnknownColumn(column) from None
            raise
        found = self.cur.fetchone()
        return found[0] if found else None

    def _target(self, table: Table) -> dict[str, TargetColumn]:
        if table.sql not in self._columns:
            self._columns[table.sql] = target_columns(self.cur, table.namespace, table.name)
        return self._columns[table.sql]
