"""The one writer behind mysql.writer, postgres.writer and supabase.writer's database channel.

A family brings a `Dialect`: its connection, quoting, DDL, key checks and bulk load. What the
write modes do is decided here, once for every family:

append   load the input into the table (created from the input's schema when missing; a new
         table gets its primary key after the load, where the family prefers that).
replace  load a new table `<table>__osiris_<hex>` built from the input's schema, then the dialect
         swaps it in for the old one (PostgreSQL: DROP and RENAME in the transaction; MySQL: one
         atomic RENAME TABLE).
upsert   load a staging table with the target's columns and the input's order, then the dialect
         merges it in by key; when the input repeats a key, its last row wins.

Where DDL is transactional (PostgreSQL) the whole write is one transaction and a failure leaves
the database as it was. Where DDL commits implicitly (MySQL), a failed write rolls back its rows
and drops the tables it created.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from osiris.components._columns import check_columns
from osiris.components._writer import WriteOptions, rebatched, write_key, write_options
from osiris.components.api import StepContext, StepError

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["Dialect", "Table", "largest", "write"]


@dataclass(frozen=True)
class Table:
    namespace: str  # the PostgreSQL schema, the MySQL database
    name: str
    sql: str  # quoted and qualified, as statements name it
    temporary: bool = False

    @property
    def label(self) -> str:
        return f"{self.namespace}.{self.name}"


class UnknownColumn(Exception):
    """Raised by `Dialect.largest` for a column the table does not have."""


class Dialect(Protocol):
    """One SQL family over one open connection, inside one transaction."""

    product: str  # "MySQL", "PostgreSQL", "Supabase": for messages
    where: str  # host:port, for messages
    transactional_ddl: bool
    errors: tuple[type[BaseException], ...]  # the driver's errors, for `translate`

    def table(self, name: str) -> Table:
        """`name` or `namespace.name`, in the step's namespace when it names none."""

    def sibling(self, table: Table, name: str) -> Table:
        """Another table in `table`'s namespace."""

    def columns(self, table: Table) -> list[str]:
        """The table's column names; [] when there is no such table."""

    def execute(self, sql: str) -> None: ...

    def create_table(self, table: Table, schema: pa.Schema, pk: list[str]) -> None:
        """CREATE TABLE from an Arrow schema (the key, if the family adds it now)."""

    def key_after_load(self, table: Table, pk: list[str]) -> None:
        """Add the primary key to a table just created and loaded, if not added at creation."""

    def load(self, table: Table, reader: pa.RecordBatchReader) -> None:
        """Append every batch; an exception raised by the input is re-raised as it was."""

    def unique_keys(self, table: Table) -> list[set[str]]:
        """The column sets of the table's primary key and unique indexes."""

    def merge_stage(self, table: Table, names: list[str]) -> Table:
        """A new temporary table with `table`'s columns `names` and `osiris_seq`, counting
        rows in the order they are loaded."""

    def merge(
        self, stage: Table, table: Table, names: list[str], pk: list[str], *, keep: bool
    ) -> None:
        """Insert the stage's rows into `table`, in `osiris_seq` order; a row whose key exists
        updates it (or, with `keep`, leaves it as it is)."""

    def swap(self, stage: Table, table: Table, *, exists: bool) -> None:
        """Put the loaded `stage` in the place of `table` (which may not exist)."""

    def drop(self, table: Table) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...

    def translate(self, exc: BaseException, *, writing: bool) -> StepError: ...

    def largest(self, table: Table, column: str) -> Any:
        """MAX(column); None when the table does not exist or is empty; UnknownColumn when it
        has no such column."""


def write(ctx: StepContext, open_dialect: Callable[[WriteOptions], Dialect]) -> None:
    """Write the step's single input as its config asks, through the dialect `open_dialect`
    connects (it gets the options, for anything the family needs to know up front)."""
    cfg = ctx.config
    options = write_options(cfg)
    reader = rebatched(ctx.single_input().open(), options.batch_size)
    pk = write_key(options, reader.schema)
    dialect = open_dialect(options)
    try:
        _write(dialect, cfg, options, reader, pk)
    except dialect.errors as exc:
        raise dialect.translate(exc, writing=True) from None
    finally:
        dialect.close()


def largest(ctx: StepContext, open_dialect: Callable[[WriteOptions], Dialect], column: str) -> Any:
    """The watermark of `since: auto`: the largest `column` in the step's target table."""
    dialect = open_dialect(write_options(ctx.config))
    try:
        table = dialect.table(ctx.config["table"])
        try:
            return dialect.largest(table, column)
        except UnknownColumn:
            raise StepError(
                "config.invalid",
                f"cursor_column '{column}' is not a column of '{table.label}', the table "
                "since: auto reads it from",
            ) from None
    except dialect.errors as exc:
        raise dialect.translate(exc, writing=False) from None
    finally:
        dialect.close()


def _write(
    dialect: Dialect,
    cfg: dict[str, Any],
    options: WriteOptions,
    reader: pa.RecordBatchReader,
    pk: list[str],
) -> None:
    target = dialect.table(cfg["table"])
    created: list[Table] = []  # what a failed write drops where DDL is not transactional
    try:
        existing = dialect.columns(target)
        if not existing and not options.create:
            raise StepError(
                "table.not_found",
                f"table '{target.label}' does not exist on {dialect.product} at "
                f"{dialect.where}; create it or set `create_if_missing: true`",
            )
        if existing and options.mode != "replace":
            # replace builds a new table from the input's schema; the others write into this one
            check_columns(target.label, reader.schema.names, existing)
        if existing and options.truncate and options.mode != "replace":
            # DELETE, not TRUNCATE: it stays in the load's transaction and rolls back with it
            dialect.execute(f"DELETE FROM {target.sql}")
        if options.mode == "append":
            if existing:
                dialect.load(target, reader)
            else:
                _create_and_load(dialect, target, reader, pk, created)
        elif options.mode == "replace":
            stage = dialect.sibling(target, f"{target.name[:40]}__osiris_{secrets.token_hex(4)}")
            _create_and_load(dialect, stage, reader, pk, created)
            dialect.swap(stage, target, exists=bool(existing))
        else:
            keep = cfg.get("prefer") == "resolution=ignore-duplicates"  # supabase.writer's
            _upsert(dialect, target, reader, pk, created, exists=bool(existing), keep=keep)
        dialect.commit()
    except BaseException:
        _undo(dialect, created)
        raise


def _create_and_load(
    dialect: Dialect,
    table: Table,
    reader: pa.RecordBatchReader,
    pk: list[str],
    created: list[Table],
) -> None:
    dialect.create_table(table, reader.schema, pk)
    created.append(table)
    dialect.load(table, reader)
    if pk:
        dialect.key_after_load(table, pk)


def _upsert(
    dialect: Dialect,
    target: Table,
    reader: pa.RecordBatchReader,
    pk: list[str],
    created: list[Table],
    *,
    exists: bool,
    keep: bool,
) -> None:
    if not exists:
        dialect.create_table(target, reader.schema, pk)
        created.append(target)
        dialect.key_after_load(target, pk)  # before the merge, which matches rows by it
    if set(pk) not in dialect.unique_keys(target):
        raise StepError(
            "config.invalid",
            f"table '{target.label}' has no PRIMARY KEY or UNIQUE key on ({', '.join(pk)}), so "
            "upsert cannot match rows; add one or change `primary_key`",
        )
    stage = dialect.merge_stage(target, reader.schema.names)
    created.append(stage)
    dialect.load(stage, reader)
    dialect.merge(stage, target, reader.schema.names, pk, keep=keep)
    dialect.drop(stage)


def _undo(dialect: Dialect, created: list[Table]) -> None:
    """Roll back after a failure, without hiding that failure; where DDL is not
    transactional, drop what this write created (newest first)."""
    with contextlib.suppress(*dialect.errors, OSError):
        dialect.rollback()
    if dialect.transactional_ddl:
        return
    for table in reversed(created):
        with contextlib.suppress(*dialect.errors, OSError):
            dialect.drop(table)
