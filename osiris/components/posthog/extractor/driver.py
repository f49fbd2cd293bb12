"""posthog.extractor: events or persons from PostHog's HogQL query API (see spec.yaml).

Every page is one `POST /api/projects/<id>/query/` with a HogQLQuery, the personal API key as
`Authorization: Bearer`. Pages are read in key order and the next page starts after the last
row of the one before (seek paging: `(timestamp, uuid) > (last timestamp, last uuid)`), which
neither skips nor repeats rows while PostHog ingests, unlike OFFSET. Values go into the HogQL
text only as validated timestamps, uuids and escaped string literals.

Columns, as upstream Osiris names them: events → uuid, event, timestamp, distinct_id, person_id
and one `properties_<key>` column per property; persons → id, created_at, is_identified and
`person_properties_<key>`. A property holding an object or a list is JSON text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from osiris.components.api import StepContext, StepError

if TYPE_CHECKING:
    import pyarrow as pa

    from osiris.components._http import HttpClient

log = logging.getLogger(__name__)
_SERVICE = "PostHog"
_REGIONS = {"us": "https://us.posthog.com", "eu": "https://eu.posthog.com"}
_DEDUP = 10_000  # uuids remembered for deduplication (the most recent ones)

# data_type -> (the HogQL table, its key columns in order, the columns read, pinned types)
_KINDS: dict[str, tuple[str, tuple[str, str], str, dict[str, str]]] = {
    "events": (
        "events",
        ("timestamp", "uuid"),
        "uuid, event, timestamp, distinct_id, person_id, properties",
        {"uuid": "string", "event": "string", "timestamp": "timestamp",
         "distinct_id": "string", "person_id": "string"},
    ),
    "persons": (
        "persons",
        ("created_at", "id"),
        "id, created_at, is_identified, properties",
        {"id": "string", "created_at": "timestamp", "is_identified": "bool"},
    ),
}  # fmt: skip


def warm() -> None:
    import httpx  # noqa: F401
    import pyarrow  # noqa: F401


def run(ctx: StepContext) -> pa.RecordBatchReader:
    from osiris.components._json_records import stream

    cfg = ctx.config
    kind = cfg["data_type"]
    client = _client(ctx)
    try:
        pages = _pages(client, cfg, _start(cfg))
        return stream(pages, flatten=False, pinned=_KINDS[kind][3])
    except BaseException:
        client.close()
        raise


def _client(ctx: StepContext) -> HttpClient:
    from osiris.components._http import HttpClient

    cfg = ctx.config
    region = cfg.get("region", "us")
    if region == "self_hosted":
        base = cfg.get("custom_base_url")
        if not base:
            raise StepError("config.invalid", "region self_hosted needs `custom_base_url`")
    else:
        base = _REGIONS[region]
    project = str(cfg["project_id"])
    if not project.isdigit():
        raise StepError(
            "config.invalid", f"project_id must be PostHog's numeric id, got {project!r}"
        )
    return HttpClient(
        service=_SERVICE,
        base_url=f"{str(base).rstrip('/')}/api/projects/{project}",
        headers={"Authorization": f"Bearer {cfg['api_key']}"},
        timeout=float(cfg.get("timeout", 60)),
        connect_timeout=ctx.connect_timeout,
        retries=int(cfg.get("retries", 5)),
        allow=ctx.network_allow,
        on_retry=lambda why: log.warning("step %s: %s", ctx.step_id, why),
    )


def _start(cfg: dict[str, Any]) -> dt.datetime:
    """Where this run starts: since (given, or from since: auto), else initial_since, else 30
    days back; always less the lookback window."""
    since = cfg.get("since")
    if since == "auto":
        since = None  # no target yet: the first run
    origin = since if since is not None else cfg.get("initial_since")
    if origin is None:
        start = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    else:
        start = _instant(origin, "since" if since is not None else "initial_since")
    return start - dt.timedelta(minutes=int(cfg.get("lookback_window_minutes", 15)))


def _instant(value: Any, key: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise StepError(
                "config.invalid", f"`{key}` {value!r} is not an ISO 8601 time"
            ) from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _pages(client: HttpClient, cfg: dict[str, Any], start: dt.datetime) -> Iterator[list[Any]]:
    kind = cfg["data_type"]
    table, (time_col, id_col), columns, _ = _KINDS[kind]
    size = int(cfg.get("page_size", 1000))
    dedup = kind == "events" and cfg.get("deduplication_enabled", True)
    seen: dict[str, None] = {}
    where = [f"{time_col} >= toDateTime({_literal(_hogql_time(start))})"]
    if kind == "events" and cfg.get("event_types"):
        where.append(f"event IN ({', '.join(_literal(e) for e in cfg['event_types'])})")
    last: tuple[str, str] | None = None
    number = 0
    try:
        while True:
            number += 1
            conditions = list(where)
            if last is not None:
                t, after = _literal(last[0]), _literal(last[1])
                conditions.append(
                    f"({time_col} > toDateTime({t}) OR ({time_col} = toDateTime({t}) AND "
                    f"{id_col} > {after}))"
                )
            query = (
                f"SELECT {columns} FROM {table} WHERE {' AND '.join(conditions)} "
                f"ORDER BY {time_col} ASC, {id_col} ASC LIMIT {size}"
            )
            response = client.request(
                "POST", "/query/", json={"query": {"kind": "HogQLQuery", "query": query}}
            )
            body = client.json(response, number)
            names = body.get("columns") if isinstance(body, dict) else None
            rows = body.get("results") if isinstance(body, dict) else None
            if not isinstance(names, list) or not isinstance(rows, list):
                raise StepError(
                    "http.bad_shape", f"page {number}: PostHog's answer has no results/columns"
                )
            records = [_flat(dict(zip(names, row, strict=False)), kind) for row in rows]
            if records:
                tail = records[-1]
                reached = (_hogql_time(_instant(tail[time_col], time_col)), str(tail[id_col]))
                if last is not None and reached <= last:
                    # the seek did not move on (a server that compares whole seconds only,
                    # with more than a page of rows in one second): stop rather than loop
                    raise StepError(
                        "http.bad_shape",
                        f"page {number}: PostHog returned rows up to {reached[0]} again; raise "
                        "page_size above the number of rows in one second",
                    )
                last = reached
            if dedup:
                fresh = []
                for r in records:
                    if r["uuid"] not in seen:
                        seen[r["uuid"]] = None
                        fresh.append(r)
                while len(seen) > _DEDUP:
                    seen.pop(next(iter(seen)))
                records = fresh
            yield records
            if len(rows) < size:
                return
    finally:
        client.close()


def _flat(row: dict[str, Any], kind: str) -> dict[str, Any]:
    properties = row.pop("properties", None)
    if isinstance(properties, str):
        try:
            properties = json.loads(properties)
        except ValueError:
            properties = {"_raw": properties}
    prefix = "properties_" if kind == "events" else "person_properties_"
    for key, value in (properties or {}).items():
        row[f"{prefix}{key}"] = (
            json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
        )
    return row


def _hogql_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _literal(text: str) -> str:
    """A HogQL string literal: single-quoted, backslashes and quotes escaped."""
    return "'" + str(text).replace("\\", "\\\\").replace("'", "\\'") + "'"
