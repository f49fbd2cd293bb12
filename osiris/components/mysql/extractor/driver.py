"""mysql.extractor: a table or query from MySQL/MariaDB, streamed as Arrow batches.

PyMySQL opens the connection first (so refused/timeout/auth errors are clear and fast, where
connectorx would retry for half a minute) and reads the declared column types; connectorx then
streams the rows over the binary protocol, lazily, `batch_size` rows at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from osiris.components._columns import pick_columns
from osiris.components.api import StepContext, StepError
from osiris.components.mysql._conn import (
    Server,
    connect,
    quote_ident,
    server,
    split_table,
    translate,
)
from osiris.components.mysql._types import (
    Column,
    describe_table,
    query_schema,
    table_schema,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from pymysql.connections import Connection

DEFAULT_BATCH_SIZE = 100_000


def run(ctx: StepContext) -> pa.RecordBatchReader:
    cfg = ctx.config
    if bool(cfg.get("table")) == bool(cfg.get("query")):
        raise StepError("config.invalid", "set exactly one of `table` and `query`")
    srv = server(ctx.connection)
    batch_size = int(cfg.get("batch_size") or DEFAULT_BATCH_SIZE)
    conn = connect(srv, ctx.connect_timeout)
    try:
        if cfg.get("table"):
            sql, columns, schema = _table_select(conn, srv, cfg)
            return _stream(srv, sql, batch_size, schema, [c.convert for c in columns])
        sql = cfg["query"].strip().rstrip(";").rstrip()
        if cfg.get("cursor_column"):
            sql = f"SELECT * FROM ({sql}) AS osiris_q" + _incremental(conn, cfg, where=None)
        _check_query(conn, srv, sql)
        return _stream(srv, sql, batch_size)
    finally:
        # connectorx opens its own connections; this one only checked access and read types.
        conn.close()


def _table_select(
    conn: Connection, srv: Server, cfg: dict[str, Any]
) -> tuple[str, list[Column], pa.Schema]:
    database, name = split_table(cfg["table"], srv)
    columns, pk = describe_table(conn, database, name)
    if not columns:
        raise StepError(
            "table.not_found",
            f"table '{database}.{name}' does not exist on MySQL at {srv.where}; check `table` "
            "and the connection's database",
        )
    columns = pick_columns(columns, cfg.get("columns"), f"{database}.{name}")
    for c in columns:
        if c.unsupported:
            raise StepError("type.unsupported", c.unsupported)
    exprs = [_select_item(c) for c in columns]
    sql = f"SELECT {', '.join(exprs)} FROM {quote_ident(database)}.{quote_ident(name)}"
    sql += _incremental(conn, cfg, where=cfg.get("where"))
    return sql, columns, table_schema(columns, pk)


def _check_query(conn: Connection, srv: Server, sql: str) -> None:
    """Let the server parse the query (without running it), so errors quote the user's SQL.

    connectorx would report them against its own rewrite of the query.
    """
    import pymysql

    try:
        with conn.cursor() as cur:
            cur.execute("PREPARE osiris_check FROM %s", (sql,))
            cur.execute("DEALLOCATE PREPARE osiris_check")
    except pymysql.MySQLError as exc:
        raise translate(exc, srv) from exc


def _select_item(column: Column) -> str:
    name = quote_ident(column.field.name)
    return column.select if column.select == name else f"{column.select} AS {name}"


def _incremental(conn: Connection, cfg: dict[str, Any], *, where: str | None) -> str:
    conditions = [f"({where})"] if where else []
    cursor = cfg.get("cursor_column")
    if cursor and cfg.get("since") is not None:
        conditions.append(f"{quote_ident(cursor)} > {conn.escape(cfg['since'])}")
    sql = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return sql + (f" ORDER BY {quote_ident(cursor)}" if cursor else "")


def _stream(
    srv: Server,
    sql: str,
    batch_size: int,
    schema: pa.Schema | None = None,
    converters: list[Callable[[pa.Array], pa.Array]] | None = None,
) -> pa.RecordBatchReader:
    import connectorx as cx
    import pyarrow as pa

    try:
        raw = cx.read_sql(
            srv.url(), sql, return_type="arrow_stream", batch_size=batch_size, protocol="binary"
        )
    except Exception as exc:
        # `from None`: connectorx's own text is not scrubbed of the URL it was given.
        raise translate(exc, srv) from None
    except BaseException as exc:
        _raise_if_panic(exc)
        raise
    if schema is None or converters is None:
        schema = query_schema(raw.schema)
        converters = [_cast_to(f.type) for f in schema]
    target, convs = schema, converters

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in raw:
                if batch.num_rows:
                    arrays = [conv(col) for conv, col in zip(convs, batch.columns, strict=True)]
                    yield pa.RecordBatch.from_arrays(arrays, schema=target)
        except (StepError, GeneratorExit):
            raise
        except Exception as exc:
            raise translate(exc, srv) from None
        except BaseException as exc:
            _raise_if_panic(exc)
            raise

    return pa.RecordBatchReader.from_batches(schema, batches())


def _cast_to(arrow_type: pa.DataType) -> Callable[[pa.Array], pa.Array]:
    def cast(arr: pa.Array) -> pa.Array:
        return arr if arr.type == arrow_type else arr.cast(arrow_type)

    return cast


def _raise_if_panic(exc: BaseException) -> None:
    """connectorx reports values it cannot convert as a Rust panic (a BaseException)."""
    if type(exc).__name__ != "PanicException":
        return
    first = " ".join(str(exc).split())[:200]
    raise StepError(
        "type.unsupported",
        f"connectorx cannot convert a value read from MySQL ({first}); CAST the column to "
        "CHAR in a `query`, or read it with `table`",
    ) from None
