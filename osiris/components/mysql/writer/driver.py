"""mysql.writer: the step's single input into a MySQL/MariaDB table.

The write modes are the shared SQL writer's (osiris.components._sqlwriter); this is MySQL's
dialect for it. MySQL commits DDL implicitly, so a write is not one transaction: the rows are,
and a failed write drops the tables it created. `replace` swaps the new table in with one atomic
RENAME TABLE; a failure before the swap leaves the old table as it was.
"""

from __future__ import annotations

import dataclasses
import secrets
from typing import TYPE_CHECKING, Any

from osiris.components import _sqlwriter
from osiris.components._sqlwriter import Table, UnknownColumn
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
from osiris.components.mysql._load import load
from osiris.components.mysql._types import create_table_sql, unique_indexes

if TYPE_CHECKING:
    import pyarrow as pa

    from osiris.components._writer import WriteOptions

# Strict, so a value that does not fit is an error rather than a warning and a truncation.
_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,NO_AUTO_VALUE_ON_ZERO"
_NO_SUCH_TABLE, _NO_SUCH_COLUMN = 1146, 1054


def warm() -> None:
    """Import what `run` needs (called by a warm-started executor while the CLI compiles)."""
    import pymysql  # noqa: F401


def run(ctx: StepContext) -> None:
    _sqlwriter.write(ctx, lambda options: MySQLDialect(ctx, options))


def watermark(ctx: StepContext, column: str) -> Any:
    """The largest `column` in the target table; None while the table is missing or empty."""
    return _sqlwriter.largest(ctx, lambda options: MySQLDialect(ctx, options), column)


class MySQLDialect:
    """MySQL and MariaDB for the shared SQL writer, over one PyMySQL connection."""

    transactional_ddl = False

    def __init__(self, ctx: StepContext, options: WriteOptions) -> None:
        import pymysql

        del options  # nothing MySQL needs to know before it connects
        self.errors: tuple[type[BaseException], ...] = (pymysql.MySQLError,)
        self.srv = _server(ctx)
        self.product, self.where = self.srv.product, self.srv.where
        self.method = ctx.config.get("load_method") or "auto"
        self.scratch = ctx.scratch_dir
        self.conn = connect(self.srv, local_infile=self.method != "insert")
        try:
            self.execute(f"SET SESSION time_zone = '+00:00', sql_mode = '{_SQL_MODE}'")
        except pymysql.MySQLError as exc:
            self.conn.close()
            raise translate(exc, self.srv) from None

    def table(self, name: str) -> Table:
        database, bare = split_table(name, self.srv.database)
        return Table(database, bare, f"{quote_ident(database)}.{quote_ident(bare)}")

    def sibling(self, table: Table, name: str) -> Table:
        return Table(table.namespace, name, f"{quote_ident(table.namespace)}.{quote_ident(name)}")

    def columns(self, table: Table) -> list[str]:
        rows = self._query(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s "
            "AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (table.namespace, table.name),
        )
        return [r[0] for r in rows]

    def execute(self, sql: str) -> None:
        self._query(sql)

    def create_table(self, table: Table, schema: pa.Schema, pk: list[str]) -> None:
        # the key comes with the table: InnoDB keeps the rows in key order
        self.execute(create_table_sql(table.sql, schema, pk))

    def key_after_load(self, table: Table, pk: list[str]) -> None:
        pass

    def load(self, table: Table, reader: pa.RecordBatchReader) -> None:
        self.method = load(
            self.conn, self.srv, table.sql, reader, method=self.method, scratch=self.scratch
        )

    def unique_keys(self, table: Table) -> list[set[str]]:
        return unique_indexes(self.conn, table.namespace, table.name)

    def merge_stage(self, table: Table, names: list[str]) -> Table:
        name = f"osiris_upsert_{secrets.token_hex(4)}"
        stage = Table(table.namespace, name, quote_ident(name), temporary=True)
        cols = ", ".join(quote_ident(n) for n in names)
        self.execute(
            f"CREATE TEMPORARY TABLE {stage.sql} (osiris_seq BIGINT AUTO_INCREMENT PRIMARY KEY) "
            f"SELECT {cols} FROM {table.sql} LIMIT 0"
        )
        return stage

    def merge(
        self, stage: Table, table: Table, names: list[str], pk: list[str], *, keep: bool
    ) -> None:
        cols = ", ".join(quote_ident(n) for n in names)
        updates = [n for n in names if n not in pk]
        if keep or not updates:
            updates = pk[:1]  # a key set to itself: the row stays as it is
            assignments = ", ".join(f"{quote_ident(n)} = {quote_ident(n)}" for n in updates)
        else:
            assignments = ", ".join(f"{quote_ident(n)} = VALUES({quote_ident(n)})" for n in updates)
        self.execute(
            f"INSERT INTO {table.sql} ({cols}) SELECT {cols} FROM {stage.sql} ORDER BY osiris_seq "
            f"ON DUPLICATE KEY UPDATE {assignments}"
        )

    def swap(self, stage: Table, table: Table, *, exists: bool) -> None:
        # DDL commits anyway: commit the load, then swap in one atomic RENAME TABLE
        self.commit()
        if not exists:
            self.execute(f"RENAME TABLE {stage.sql} TO {table.sql}")
            return
        old = self.sibling(table, f"{table.name[:40]}__osiris_old_{secrets.token_hex(4)}")
        self.execute(f"RENAME TABLE {table.sql} TO {old.sql}, {stage.sql} TO {table.sql}")
        self.execute(f"DROP TABLE {old.sql}")

    def drop(self, table: Table) -> None:
        self.execute(f"DROP {'TEMPORARY ' if table.temporary else ''}TABLE IF EXISTS {table.sql}")

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()

    def translate(self, exc: BaseException, *, writing: bool) -> StepError:
        return translate(exc, self.srv, writing=writing)

    def largest(self, table: Table, column: str) -> Any:
        import pymysql

        try:
            rows = self._query(f"SELECT MAX({quote_ident(column)}) FROM {table.sql}")
        except pymysql.MySQLError as exc:
            number = int(error_parts(exc)[0] or 0)
            if number == _NO_SUCH_TABLE:
                return None
            if number == _NO_SUCH_COLUMN:
                raise UnknownColumn(column) from None
            raise
        return rows[0][0] if rows else None

    def _query(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())


def _server(ctx: StepContext) -> Server:
    srv = server(ctx.connection, ctx.connect_timeout, ctx.component)
    schema = ctx.config.get("schema")
    return dataclasses.replace(srv, database=str(schema)) if schema else srv
