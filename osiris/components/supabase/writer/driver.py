"""supabase.writer: the postgres writer over the database channel, else PostgREST.

Over the REST API (no database credentials in the connection), the input goes in batches of
`batch_size` rows as JSON:
append   POST (insert).
upsert   POST with `Prefer: resolution=merge-duplicates` (`ignore-duplicates` with
         `prefer: resolution=ignore-duplicates`) and `on_conflict=<primary_key>`.
replace  as upsert, then DELETE the rows whose key the input did not have (upstream Osiris's
         meaning of replace over REST). Not one transaction: readers can see the mix meanwhile.
The REST API cannot create tables: a missing table is `config.invalid` naming what to add.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any

from osiris.components._columns import check_columns
from osiris.components._writer import WriteOptions, rebatched, write_key, write_options
from osiris.components.api import StepContext, StepError
from osiris.components.postgres._conn import split_table
from osiris.components.supabase import _records, _rest
from osiris.components.supabase.connection import database_fields

if TYPE_CHECKING:
    import pyarrow as pa

DEFAULT_BATCH_SIZE = 500
DELETE_CHUNK = 100


def warm() -> None:
    from osiris.components.postgres.writer import driver

    driver.warm()
    import httpx  # noqa: F401


def run(ctx: StepContext) -> None:
    database = database_fields(ctx.connection or {})
    if database is not None:
        from osiris.components.postgres.writer import driver

        driver.run(dataclasses.replace(ctx, connection=database))
        return
    _write_rest(ctx)


def watermark(ctx: StepContext, column: str) -> Any:
    """The largest `column` in the target table (over either channel); None while the table is
    missing or empty."""
    database = database_fields(ctx.connection or {})
    if database is not None:
        from osiris.components.postgres.writer import driver

        return driver.watermark(dataclasses.replace(ctx, connection=database), column)
    cfg = ctx.config
    schema_name, table = split_table(cfg["table"], cfg.get("schema") or "public")
    with _rest.step_client(ctx, schema_name) as client:
        try:
            if client.table(table) is None:
                return None
            params = [("select", column), ("order", f"{column}.desc.nullslast"), ("limit", "1")]
            rows = json.loads(client.select(table, params))
        except _rest.RestError as exc:
            raise _rest.translate(exc, f"{schema_name}.{table}") from None
    return rows[0].get(column) if rows else None


def _write_rest(ctx: StepContext) -> None:
    cfg = ctx.config
    options = write_options(cfg)
    schema_name, table = split_table(cfg["table"], cfg.get("schema") or "public")
    client = _rest.step_client(ctx, schema_name)
    reader = ctx.single_input().open()
    with client:
        try:
            info = client.table(table)
            if info is None:
                raise _missing(schema_name, table, options)
            check_columns(f"{schema_name}.{table}", reader.schema.names, info.columns)
            key_columns = _key(options, reader.schema, info)
            _load(
                client,
                table,
                rebatched(reader, options.batch_size or DEFAULT_BATCH_SIZE),
                options,
                key_columns,
                prefer=cfg.get("prefer"),
                info=info,
            )
        except _rest.RestError as exc:
            raise _rest.translate(exc, f"{schema_name}.{table}", writing=True) from None


def _missing(schema: str, table: str, options: WriteOptions) -> StepError:
    if not options.create:
        return StepError(
            "table.not_found",
            f"table '{schema}.{table}' does not exist in Supabase; create it or set "
            "`create_if_missing: true` with database credentials in the connection",
        )
    return StepError(
        "config.invalid",
        f"table '{schema}.{table}' does not exist, and the Supabase connection has only the "
        "REST API, which "
        "cannot create tables; add `pg_dsn` (the database connection string from the Supabase "
        "dashboard) or `password` to the connection, or create the table first",
    )


def _key(options: WriteOptions, schema: pa.Schema, info: _rest.Table) -> list[str]:
    if options.mode == "append":
        return []
    if options.key:
        return write_key(options, schema)
    found = write_key(dataclasses.replace(options, mode="append"), schema) or info.primary_key
    if not found:
        raise StepError(
            "config.invalid",
            f"write_mode {options.mode} needs `primary_key` (the REST API shows the table "
            "has none)",
        )
    return found


def _load(
    client: _rest.Client,
    table: str,
    reader: pa.RecordBatchReader,
    options: WriteOptions,
    key: list[str],
    *,
    prefer: str | None,
    info: _rest.Table,
) -> None:
    resolution = None
    if options.mode in ("upsert", "replace"):
        ignore = prefer == "resolution=ignore-duplicates"
        resolution = "ignore-duplicates" if ignore else "merge-duplicates"
    seen: set[tuple[Any, ...]] = set()
    names = reader.schema.names
    for read in reader:
        if not read.num_rows:
            continue
        batch = _last_of_each_key(read, key) if resolution is not None else read
        rows = _records.rows_to_json(batch)
        client.insert(table, _rest.dumps(rows), names, resolution=resolution, on_conflict=key)
        if options.mode == "replace":
            seen.update(_keys(batch.select(key)))
    if options.mode == "replace":
        _delete_others(client, table, key, seen, info)


def _last_of_each_key(batch: pa.RecordBatch, key: list[str]) -> pa.RecordBatch:
    """The batch without earlier rows of a key it repeats: PostgreSQL refuses to upsert one
    row twice in one statement, and the last row of a key is the one that counts."""
    keys = _keys(batch.select(key))
    if len(set(keys)) == len(keys):
        return batch
    last = {k: i for i, k in enumerate(keys)}
    return batch.take(sorted(last.values()))


def _keys(batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
    columns = [c.to_pylist() for c in batch.columns]
    return list(zip(*columns, strict=True))


def _delete_others(
    client: _rest.Client,
    table: str,
    key: list[str],
    keep: set[tuple[Any, ...]],
    info: _rest.Table,
) -> None:
    """Delete the rows whose key the input did not have, reading the keys a page at a time."""
    import pyarrow as pa

    schema = pa.schema(
        [_records.arrow_field(k, info.columns.get(k, {}), nullable=True) for k in key]
    )
    order = ",".join(key)
    stale: list[tuple[Any, ...]] = []
    offset = 0
    page = 1000
    while True:
        body = client.select(
            table,
            [
                ("select", ",".join(key)),
                ("order", order),
                ("limit", str(page)),
                ("offset", str(offset)),
            ],
        )
        batch = _records.batch_from_json(body, schema)
        if batch.num_rows == 0:
            break
        offset += batch.num_rows
        stale += [k for k in _keys(batch) if k not in keep]
    for start in range(0, len(stale), DELETE_CHUNK):
        chunk = stale[start : start + DELETE_CHUNK]
        client.delete(table, _key_filter(key, chunk))


def _key_filter(key: list[str], rows: list[tuple[Any, ...]]) -> list[tuple[str, str]]:
    if len(key) == 1:
        return [(key[0], _rest.in_list(_records.jsonable(r[0]) for r in rows))]
    ands = [
        "and("
        + ",".join(f"{k}.eq.{_quote(_records.jsonable(v))}" for k, v in zip(key, r, strict=True))
        + ")"
        for r in rows
    ]
    return [("or", "(" + ",".join(ands) + ")")]


def _quote(value: Any) -> str:
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
