"""supabase.extractor: the postgres extractor over the database channel, else PostgREST.

`select`, `filter`, `order`, `limit` and `offset` (PostgREST's grammar, `_query`) mean the same
on both channels. Over the REST API the table is read a page of `batch_size` rows at a time
(offset paging, ordered by `order`, else the primary key, else every column, so that pages do
not overlap), each page one record batch; column types come from PostgREST's OpenAPI
description of the table.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from osiris.components._columns import cursor_operator, key_metadata
from osiris.components._tables import pick_tables
from osiris.components.api import StepContext, StepError
from osiris.components.postgres._conn import quote_ident, quote_literal, split_table
from osiris.components.supabase import _query, _records, _rest
from osiris.components.supabase.connection import database_fields

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_PAGE = 1000  # Supabase's default "max rows": a larger page comes back cut to this
_REST_KEYS = ("select", "filter", "order", "limit", "offset")


def warm() -> None:
    from osiris.components.postgres.extractor import driver

    driver.warm()
    import httpx  # noqa: F401


def tables(ctx: StepContext) -> list[str]:
    """The tables `tables`/`exclude_tables` name (a many-table step): from the database, or
    from what PostgREST's description lists (where a view cannot be told from a table)."""
    database = database_fields(ctx.connection or {})
    if database is not None:
        from osiris.components.postgres.extractor import driver

        return driver.tables(dataclasses.replace(ctx, connection=database))
    cfg = ctx.config
    schema = cfg.get("schema") or "public"
    with _rest.step_client(ctx, schema) as client:
        try:
            names = client.table_names()
        except _rest.RestError as exc:
            raise _rest.translate(exc, f"{schema} (the table list)") from None
    return pick_tables(
        names, [], cfg["tables"], cfg.get("exclude_tables") or (), where=f"Supabase ({schema})"
    )


def run(ctx: StepContext) -> pa.RecordBatchReader:
    cfg = ctx.config
    database = database_fields(ctx.connection or {})
    if database is not None:
        from osiris.components.postgres.extractor import driver

        return driver.run(
            dataclasses.replace(ctx, connection=database, config=_database_config(cfg))
        )
    return _read_rest(ctx)


def _database_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The step's config for the postgres extractor: PostgREST's options become SQL."""
    if not any(cfg.get(k) is not None for k in _REST_KEYS):
        return cfg
    if cfg.get("query"):
        raise StepError(
            "config.invalid",
            "select, filter, order, limit and offset read a `table`; with `query`, write them "
            "in the SQL",
        )
    items = _query.parse_select(cfg.get("select"))
    filters = _query.parse_filter(cfg.get("filter"))
    orders = _query.parse_order(cfg.get("order"))
    rest = {k: v for k, v in cfg.items() if k not in (*_REST_KEYS, "table", "columns", "where")}
    schema, table = split_table(cfg["table"], cfg.get("schema") or "")
    source = (quote_ident(schema) + "." if schema else "") + quote_ident(table)
    if items is not None and cfg.get("columns"):
        raise StepError("config.invalid", "give `select` or `columns`, not both")
    select = _query.sql_select(items, quote_ident) if items else _columns(cfg)
    conditions = [c for c in (_query.sql_where(filters, quote_ident, quote_literal),) if c]
    if cfg.get("where"):
        conditions.append(f"({cfg['where']})")
    sql = f"SELECT {select} FROM {source}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    if orders:
        sql += " ORDER BY " + _query.sql_order(orders, quote_ident)
    if cfg.get("limit") is not None:
        sql += f" LIMIT {int(cfg['limit'])}"
    if cfg.get("offset"):
        sql += f" OFFSET {int(cfg['offset'])}"
    return {**rest, "query": sql}


def _columns(cfg: dict[str, Any]) -> str:
    return ", ".join(quote_ident(c) for c in cfg.get("columns") or []) or "*"


def _read_rest(ctx: StepContext) -> pa.RecordBatchReader:
    import pyarrow as pa

    cfg = ctx.config
    for key in ("query", "where"):
        if cfg.get(key):
            raise StepError(
                "config.invalid",
                f"`{key}` is SQL, which the Supabase REST API does not run; use select/filter/"
                "order, or add database credentials (`pg_dsn`) to the connection",
            )
    if not cfg.get("table"):
        raise StepError("config.invalid", "reading over the Supabase REST API needs `table`")
    schema_name, table = split_table(cfg["table"], cfg.get("schema") or "public")
    client = _rest.step_client(ctx, schema_name)
    label = f"{schema_name}.{table}"
    try:
        info = client.table(table)
        if info is None:
            raise StepError(
                "table.not_found",
                f"table '{label}' does not exist in Supabase (or the key may not read it)",
            )
        plan = _plan(cfg, info)
    except _rest.RestError as exc:
        client.close()
        raise _rest.translate(exc, label) from None
    except BaseException:
        client.close()
        raise
    return pa.RecordBatchReader.from_batches(plan.schema, _pages(client, table, label, plan))


@dataclasses.dataclass
class _Plan:
    schema: pa.Schema
    params: list[tuple[str, str]]  # select, filters and order
    offset: int
    limit: int | None
    page: int


def _plan(cfg: dict[str, Any], info: _rest.Table) -> _Plan:
    import pyarrow as pa

    items = _query.parse_select(cfg.get("select"))
    if items is None:
        names = cfg.get("columns") or list(info.columns)
        items = [_query.Item(n) for n in names]
    unknown = [i.column for i in items if i.column not in info.columns]
    if unknown:
        raise StepError(
            "schema.mismatch",
            f"table '{info.name}' has no column {', '.join(map(repr, unknown))}; its columns "
            f"are {', '.join(info.columns)}",
        )
    fields = []
    for item in items:
        prop = info.columns[item.column] if not item.cast else {"format": item.cast}
        nullable = item.column not in info.required or bool(item.cast)
        fields.append(_records.arrow_field(item.name, prop, nullable=nullable))
    kept = {i.column: i.name for i in items if not i.cast}
    pk = [kept[k] for k in info.primary_key] if set(info.primary_key) <= set(kept) else []
    schema = pa.schema(fields, metadata=key_metadata(pk) if pk else None)
    filters = _query.parse_filter(cfg.get("filter"))
    orders = _query.parse_order(cfg.get("order"))
    cursor = cfg.get("cursor_column")
    if cursor:
        if cfg.get("since") is not None:
            op = "gte" if cursor_operator(cfg) == ">=" else "gt"
            filters.append(_query.Filter(cursor, op, str(cfg["since"])))
        orders = [_query.Order(cursor), *orders]
    # offset paging needs a total order, or pages could overlap and skip rows
    tie_break = info.primary_key or list(info.columns)
    orders += [_query.Order(c) for c in tie_break if c not in {o.column for o in orders}]
    params = [("select", _query.rest_select(items)), *_query.rest_filters(filters)]
    params.append(("order", _query.rest_order(orders)))
    limit = cfg.get("limit")
    return _Plan(
        schema,
        params,
        int(cfg.get("offset") or 0),
        int(limit) if limit is not None else None,
        int(cfg.get("batch_size") or DEFAULT_PAGE),
    )


def _pages(client: _rest.Client, table: str, label: str, plan: _Plan) -> Iterator[pa.RecordBatch]:
    offset, left = plan.offset, plan.limit
    try:
        while left is None or left > 0:
            size = plan.page if left is None else min(plan.page, left)
            params = [*plan.params, ("limit", str(size)), ("offset", str(offset))]
            try:
                body = client.select(table, params)
            except _rest.RestError as exc:
                raise _rest.translate(exc, label) from None
            batch = _records.batch_from_json(body, plan.schema)
            if batch.num_rows == 0:
                return  # a short page is not the end: the server may cap pages (max rows)
            offset += batch.num_rows
            if left is not None:
                left -= batch.num_rows
            yield batch
    finally:
        client.close()
