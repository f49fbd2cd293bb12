"""mysql.extractor: a table or query from MySQL/MariaDB, streamed as Arrow batches.

PyMySQL opens the connection first (so refused/timeout/auth errors are clear and fast, where
connectorx would retry for half a minute) and reads the declared column types; connectorx then
streams the rows over the binary protocol, lazily, `batch_size` rows at a time. A table with an
integer key is read in key ranges (ranges.py), so memory does not grow with the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from osiris.components._columns import cursor_operator, pick_columns
from osiris.components._tables import pick_tables
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
    caster,
    describe_table,
    query_schema,
    table_schema,
)
from osiris.components.mysql.extractor import ranges

if TYPE_CHECKING:
    import pyarrow as pa
    from pymysql.connections import Connection

# 25k rows: lower peak memory than 50k or 100k, and no slower (docs/benchmarks.md).
DEFAULT_BATCH_SIZE = 25_000
# a table keyed by one integer column whose keys span fewer values (and less than a batch) is
# read in one PyMySQL query rather than through connectorx (see _read_small)
SMALL_ROWS = 5_000


def warm() -> None:
    """Import what `run` needs (called by a warm-started executor while the CLI compiles)."""
    import connectorx  # noqa: F401
    import pymysql  # noqa: F401


def tables(ctx: StepContext) -> list[str]:
    """The tables `tables`/`exclude_tables` name in the database (a many-table step)."""
    import pymysql

    cfg = ctx.config
    srv = server(ctx.connection, ctx.connect_timeout, ctx.component)
    database = str(cfg.get("schema") or srv.database)
    if not database:
        raise StepError(
            "config.invalid", "reading `tables` needs a database: set `database` in the connection"
        )
    conn = connect(srv)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT TABLE_NAME, TABLE_TYPE, DATA_LENGTH FROM information_schema.TABLES "
                "WHERE TABLE_SCHEMA = %s",
                (database,),
            )
            rows = list(cur.fetchall())
    except pymysql.MySQLError as exc:
        raise translate(exc, srv) from exc
    finally:
        conn.close()
    base = [r[0] for r in rows if r[1] == "BASE TABLE"]
    views = [r[0] for r in rows if r[1] != "BASE TABLE"]
    return pick_tables(
        base,
        views,
        cfg["tables"],
        cfg.get("exclude_tables") or (),
        where=f"database '{database}' on MySQL at {srv.where}",
        sizes={r[0]: r[2] for r in rows},
    )


def run(ctx: StepContext) -> pa.RecordBatchReader:
    cfg = ctx.config
    if bool(cfg.get("table")) == bool(cfg.get("query")):
        raise StepError("config.invalid", "set exactly one of `table` and `query`")
    srv = server(ctx.connection, ctx.connect_timeout, ctx.component)
    if cfg.get("schema"):
        srv = dataclasses.replace(srv, database=str(cfg["schema"]))
    batch_size = int(cfg.get("batch_size") or DEFAULT_BATCH_SIZE)
    conn = connect(srv)
    try:
        if cfg.get("table"):
            return _read_table(conn, srv, cfg, batch_size)
        sql = cfg["query"].strip().rstrip(";").rstrip()
        if any(cfg.get(k) for k in ("cursor_column", "columns", "where", "limit", "offset")):
            # the query's result, narrowed the way a table's rows would be
            picked = ", ".join(quote_ident(c) for c in cfg.get("columns") or []) or "*"
            sql = f"SELECT {picked} FROM ({sql}) AS osiris_q" + _incremental(
                conn, cfg, where=cfg.get("where")
            )
            sql += _window(cfg)
        _check_query(conn, srv, sql)
        return _stream(srv, sql, batch_size)
    finally:
        # connectorx opens its own connections; this one only checked access and read types.
        conn.close()


def _read_table(
    conn: Connection, srv: Server, cfg: dict[str, Any], batch_size: int
) -> pa.RecordBatchReader:
    database, name = split_table(cfg["table"], srv.database)
    every, pk = describe_table(conn, database, name)
    if not every:
        raise StepError(
            "table.not_found",
            f"table '{database}.{name}' does not exist on MySQL at {srv.where}; check `table` "
            "and the connection's database",
        )
    columns = pick_columns(every, cfg.get("columns"), f"{database}.{name}")
    for c in columns:
        if c.unsupported:
            raise StepError("type.unsupported", c.unsupported)
    schema, converters = table_schema(columns, pk), [c.convert for c in columns]
    exprs = [_select_item(c) for c in columns]
    source = f" FROM {quote_ident(database)}.{quote_ident(name)}"
    key = ranges.split_key(
        conn,
        database,
        name,
        every,
        pk=pk,
        wanted=cfg.get("split_by"),
        cursor=cfg.get("cursor_column"),
    )
    if key is None or _window(cfg):
        # a window of rows (limit/offset) is one query, in key order so that it is repeatable
        order = cfg.get("cursor_column")
        if _window(cfg) and not order:
            order = key or (pk[0] if len(pk) == 1 else None)
        sql = f"SELECT {', '.join(exprs)}{source}" + _incremental(
            conn, {**cfg, "cursor_column": order} if order else cfg, where=cfg.get("where")
        )
        window = _window(cfg)
        if not window:
            # at most one batch: read at once; more rows than that, and connectorx reads them
            cap = min(batch_size, SMALL_ROWS)
            small = _read_small(conn, f"{sql} LIMIT {cap + 1}", columns, schema, most=cap)
            if small is not None:
                return small
        return _convert(srv, _open(srv, sql + window, batch_size), schema, converters)
    names = [c.field.name for c in columns]
    drop_key = key not in names
    if drop_key:
        # Selected only to learn where a range cut by its LIMIT stopped.
        alias = next(a for n in range(len(names) + 1) if (a := "osiris_key" + "_" * n) not in names)
        exprs.append(f"{quote_ident(key)} AS {quote_ident(alias)}")
    select = f"SELECT {', '.join(exprs)}{source}"
    conditions = _conditions(conn, cfg, where=cfg.get("where"))
    # Checked up front: an empty table runs no range query that would report a bad `where`.
    _check_query(conn, srv, select + (f" WHERE {' AND '.join(conditions)}" if conditions else ""))
    bounds = ranges.key_bounds(
        conn, database, name, key, cfg.get("since"), operator=cursor_operator(cfg)
    )
    if bounds is None:
        return _convert(srv, (), schema, converters)
    if bounds[1] - bounds[0] < min(batch_size, SMALL_ROWS):  # unique keys: so many rows at most
        sql = f"SELECT {', '.join(exprs[: len(names)])}{source}"
        sql += f" WHERE {' AND '.join(conditions)}" if conditions else ""
        small = _read_small(conn, f"{sql} ORDER BY {quote_ident(key)}", columns, schema, most=None)
        if small is not None:
            return small
    batches = ranges.read(
        lambda sql: _open(srv, sql, batch_size),
        select,
        conditions=conditions,
        key=key,
        bounds=bounds,
        batch_size=batch_size,
        key_index=len(names) if drop_key else names.index(key),
        drop_key=drop_key,
    )
    return _convert(srv, batches, schema, converters)


def _read_small(
    conn: Connection, sql: str, columns: list[Column], schema: pa.Schema, *, most: int | None
) -> pa.RecordBatchReader | None:
    """A small table's rows, read at once on the connection already open.

    connectorx holds the GIL while it waits for the server, so each of its streams stalls
    every other step's thread for a round trip or more: over a slow link, sixteen small tables
    copied side by side would wait mostly one after another. PyMySQL waits without the GIL,
    and needs no connection of its own. None when a value does not come back exactly as
    connectorx would give it (FLOAT travels as rounded text here; anything else unexpected):
    the caller reads the table with connectorx then; also when it returns more than `most`
    rows.
    """
    import pyarrow as pa

    if any(pa.types.is_float32(c.field.type) for c in columns):
        return None
    with conn.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
    if most is not None and len(rows) > most:
        return None
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    try:
        # each column as PyMySQL gives it, then converted as connectorx's would be
        arrays = [_from_python(c, list(v)) for c, v in zip(columns, values, strict=True)]
        batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    except (pa.ArrowException, OverflowError, StepError):
        return None
    return pa.RecordBatchReader.from_batches(schema, [batch] if rows else [])


def _from_python(column: Column, values: list[Any]) -> pa.Array:
    import pyarrow as pa

    t = column.field.type
    if column.select == quote_ident(column.field.name) and not pa.types.is_boolean(t):
        # PyMySQL's int, Decimal, float, str, bytes, date and datetime hold the value exactly
        return pa.array(values, type=t)
    # text (CAST ... AS CHAR), WKB, or a boolean as 0/1: converted as connectorx's would be
    return column.convert(pa.array(values))


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
    conditions = _conditions(conn, cfg, where=where)
    cursor = cfg.get("cursor_column")
    sql = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return sql + (f" ORDER BY {quote_ident(cursor)}" if cursor else "")


def _window(cfg: dict[str, Any]) -> str:
    """LIMIT/OFFSET for `limit` and `offset` ("" for neither)."""
    limit, offset = cfg.get("limit"), int(cfg.get("offset") or 0)
    if limit is None and not offset:
        return ""
    # MySQL has no OFFSET without LIMIT; its manual's idiom is the largest BIGINT UNSIGNED
    count = int(limit) if limit is not None else 18446744073709551615
    return f" LIMIT {count}" + (f" OFFSET {offset}" if offset else "")


def _conditions(conn: Connection, cfg: dict[str, Any], *, where: str | None) -> list[str]:
    conditions = [f"({where})"] if where else []
    cursor = cfg.get("cursor_column")
    if cursor and cfg.get("since") is not None:
        op = cursor_operator(cfg)
        conditions.append(f"{quote_ident(cursor)} {op} {conn.escape(cfg['since'])}")
    return conditions


def _stream(srv: Server, sql: str, batch_size: int) -> pa.RecordBatchReader:
    """A `query` as one connectorx stream (it reads ahead of the consumer without a bound)."""
    raw = _open(srv, sql, batch_size)
    schema = query_schema(raw.schema)
    return _convert(srv, raw, schema, [caster(f.type) for f in schema])


def _open(srv: Server, sql: str, batch_size: int) -> pa.RecordBatchReader:
    import connectorx as cx

    try:
        return cx.read_sql(
            srv.url(), sql, return_type="arrow_stream", batch_size=batch_size, protocol="binary"
        )
    except Exception as exc:
        # `from None`: connectorx's own text is not scrubbed of the URL it was given.
        raise translate(exc, srv) from None
    except BaseException as exc:
        _raise_if_panic(exc)
        raise


def _convert(
    srv: Server,
    raw: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    converters: list[Callable[[pa.Array], pa.Array]],
) -> pa.RecordBatchReader:
    """connectorx's batches cast to `schema`, its errors translated as they surface."""
    import pyarrow as pa

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in raw:
                if batch.num_rows:
                    pairs = zip(converters, batch.columns, strict=True)
                    yield pa.RecordBatch.from_arrays([c(a) for c, a in pairs], schema=schema)
        except (StepError, GeneratorExit):
            raise
        except Exception as exc:
            raise translate(exc, srv) from None
        except BaseException as exc:
            _raise_if_panic(exc)
            raise

    return pa.RecordBatchReader.from_batches(schema, batches())


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
