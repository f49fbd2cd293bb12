"""postgres.extractor (and supabase.extractor): a table or query, streamed as Arrow batches.

ADBC runs the SELECT as a binary COPY and hands over Arrow batches as they arrive, so memory
stays bounded. With `table`, the declared types come from the catalog; with `query`, from the
result description.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from osiris.components._columns import cursor_operator, pick_columns
from osiris.components._tables import pick_tables
from osiris.components.api import StepContext, StepError
from osiris.components.postgres._conn import (
    Server,
    connect,
    quote_ident,
    quote_literal,
    server,
    split_table,
    translate,
)
from osiris.components.postgres._types import Column, arrow_schema, describe_table, query_columns

if TYPE_CHECKING:
    import pyarrow as pa
    from adbc_driver_manager.dbapi import Connection, Cursor

DEFAULT_BATCH_SIZE = 100_000


def warm() -> None:
    """Import what `run` needs (called by a warm-started executor while the CLI compiles)."""
    import adbc_driver_postgresql.dbapi  # noqa: F401


def tables(ctx: StepContext) -> list[str]:
    """The tables `tables`/`exclude_tables` name in the schema (a many-table step): base
    tables by pattern (partitions of a partitioned table only through their parent), views,
    materialized views and foreign tables only by name."""
    import psycopg

    from osiris.components.postgres._conn import connect_writer

    cfg = ctx.config
    srv = server(ctx.connection, ctx.connect_timeout, ctx.component)
    schema = str(cfg.get("schema") or srv.schema)
    conn = connect_writer(srv)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT c.relname, c.relkind IN ('r', 'p') AND NOT c.relispartition, "
                "pg_total_relation_size(c.oid) "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')",
                (schema,),
            )
            rows = list(cur.fetchall())
    except psycopg.Error as exc:
        raise translate(exc, srv) from None
    finally:
        conn.close()
    return pick_tables(
        [r[0] for r in rows if r[1]],
        [r[0] for r in rows if not r[1]],
        cfg["tables"],
        cfg.get("exclude_tables") or (),
        where=f"schema '{schema}' on {srv.product} at {srv.where}",
        sizes={r[0]: r[2] for r in rows},
    )


def run(ctx: StepContext) -> pa.RecordBatchReader:
    import adbc_driver_manager
    import pyarrow as pa

    cfg = ctx.config
    if bool(cfg.get("table")) == bool(cfg.get("query")):
        raise StepError("config.invalid", "set exactly one of `table` and `query`")
    srv = server(ctx.connection, ctx.connect_timeout, ctx.component)
    batch_size = int(cfg.get("batch_size") or DEFAULT_BATCH_SIZE)
    conn = connect(srv)
    cur: Cursor | None = None
    try:
        cur = conn.cursor()
        if cfg.get("table"):
            sql, columns, schema = _table_select(cur, srv, cfg)
        else:
            sql, columns, schema = _query_select(cur, cfg)
        cur.execute(sql)
        raw = cur.fetch_record_batch()
    except BaseException as exc:
        if cur is not None:
            cur.close()
        conn.close()
        if isinstance(exc, adbc_driver_manager.Error):
            raise translate(exc, srv) from None
        raise
    stream = _Stream(conn, cur, raw, columns=columns, schema=schema, batch_size=batch_size, srv=srv)
    return pa.RecordBatchReader.from_batches(schema, stream)


def _table_select(
    cur: Cursor, srv: Server, cfg: dict[str, Any]
) -> tuple[str, list[Column], pa.Schema]:
    schema_name, name = split_table(cfg["table"], cfg.get("schema") or srv.schema)
    columns, pk = describe_table(cur, schema_name, name)
    if not columns:
        raise StepError(
            "table.not_found",
            f"table '{schema_name}.{name}' does not exist on {srv.product} at {srv.where}; "
            "check `table` and the connection's database and schema",
        )
    columns = pick_columns(columns, cfg.get("columns"), f"{schema_name}.{name}")
    source = f"{quote_ident(schema_name)}.{quote_ident(name)}"
    sql = f"SELECT {_select_list(columns)} FROM {source}" + _filters(cfg, cfg.get("where"))
    return sql, columns, arrow_schema(columns, pk)


def _query_select(cur: Cursor, cfg: dict[str, Any]) -> tuple[str, list[Column], pa.Schema]:
    sql = cfg["query"].strip().rstrip(";").rstrip()
    if cfg.get("cursor_column"):
        sql = f"SELECT * FROM ({sql}) AS osiris_q" + _filters(cfg, None)
    columns = query_columns(cur.adbc_execute_schema(sql))
    if any(c.select != quote_ident(c.field.name) for c in columns):
        names = [c.field.name for c in columns]
        if len(set(names)) != len(names):
            raise StepError(
                "sql.error",
                "the query returns the same column name twice and a column that needs "
                "conversion; give every column its own name with AS",
            )
        sql = f"SELECT {_select_list(columns)} FROM ({sql}) AS osiris_q"
    return sql, columns, arrow_schema(columns, [])


def _select_list(columns: list[Column]) -> str:
    items = []
    for c in columns:
        name = quote_ident(c.field.name)
        items.append(c.select if c.select == name else f"{c.select} AS {name}")
    return ", ".join(items)


def _filters(cfg: dict[str, Any], where: str | None) -> str:
    conditions = [f"({where})"] if where else []
    cursor = cfg.get("cursor_column")
    if cursor and cfg.get("since") is not None:
        op = cursor_operator(cfg)
        conditions.append(f"{quote_ident(cursor)} {op} {quote_literal(cfg['since'])}")
    sql = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return sql + (f" ORDER BY {quote_ident(cursor)}" if cursor else "")


class _Stream:
    """The batches of one query; closes the cursor and connection when done, failed or dropped.

    The batch generator must not refer back to this object: in a reference cycle the garbage
    collector may finalize ADBC's cursor before `__del__` here closes it in order.
    """

    def __init__(
        self,
        conn: Connection,
        cur: Cursor,
        raw: pa.RecordBatchReader,
        *,
        columns: list[Column],
        schema: pa.Schema,
        batch_size: int,
        srv: Server,
    ) -> None:
        self._conn, self._cur, self._raw = conn, cur, raw
        self._closed = False
        self._batches = _batches(raw, columns, schema, batch_size, srv)

    def __iter__(self) -> _Stream:
        return self

    def __next__(self) -> pa.RecordBatch:
        try:
            return next(self._batches)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._raw.close()
        self._cur.close()
        self._conn.close()

    def __del__(self) -> None:
        self.close()


def _batches(
    raw: pa.RecordBatchReader, columns: list[Column], schema: pa.Schema, size: int, srv: Server
) -> Iterator[pa.RecordBatch]:
    import pyarrow as pa

    while True:
        try:
            batch = raw.read_next_batch()
        except StopIteration:
            return
        except Exception as exc:  # the server failed mid-stream (pyarrow raises OSError)
            raise translate(exc, srv) from None
        for start in range(0, batch.num_rows, size):
            part = batch.slice(start, size)
            arrays = [c.convert(col) for c, col in zip(columns, part.columns, strict=True)]
            yield pa.RecordBatch.from_arrays(arrays, schema=schema)
