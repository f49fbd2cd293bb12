"""Reads and writes on one table: GET/HEAD, POST, PATCH, DELETE, answered as PostgREST does."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from testing.postgrest_standin import prefer, statements
from testing.postgrest_standin.catalog import Table
from testing.postgrest_standin.errors import JSON_UTF8, ApiError
from testing.postgrest_standin.prefer import Prefs
from testing.postgrest_standin.syntax import Query

SINGULAR = "application/vnd.pgrst.object+json"
ARRAY = "application/vnd.pgrst.array+json"


def negotiate(accept: str) -> str:
    """The response media type for an Accept header (JSON array unless a PostgREST type asks)."""
    stripped = "nulls=stripped" in accept.replace(" ", "")
    if SINGULAR in accept:
        return SINGULAR + (";nulls=stripped" if stripped else "")
    if ARRAY in accept and stripped:
        return ARRAY + ";nulls=stripped"
    return "application/json"


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""


@dataclass
class Context:
    """One request's view of the world: its cursor (inside the request's transaction) and more."""

    cur: Any
    schema: str
    negotiated: bool  # Content-Profile is echoed when the schema was negotiated
    max_rows: int | None
    safeupdate: bool
    media: str  # the negotiated response type, e.g. application/vnd.pgrst.object+json

    @property
    def singular(self) -> bool:
        return self.media.startswith(SINGULAR)

    @property
    def strip_nulls(self) -> bool:
        return self.media.endswith(";nulls=stripped")


@dataclass
class Payload:
    text: str
    keys: list[str]
    is_object: bool


def _invalid_body(message: str) -> ApiError:
    return ApiError(400, "PGRST102", message)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def parse_payload(raw: bytes, columns: list[str] | None) -> Payload:
    """PostgREST's payload rules: with `columns=` the body goes to PostgreSQL untouched."""
    text = raw.decode("utf-8", errors="replace")
    if columns is not None:
        return Payload(text, list(dict.fromkeys(columns)), text.lstrip().startswith("{"))
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        raise _invalid_body("Empty or invalid json") from None
    if isinstance(value, dict):
        return Payload(text, sorted(value), True)
    if not isinstance(value, list) or not value:
        return Payload("[]", [], False)  # PostgREST turns any other JSON into an empty array
    first = value[0]
    if not isinstance(first, dict) or any(
        not isinstance(row, dict) or row.keys() != first.keys() for row in value
    ):
        raise _invalid_body("All object keys must match")
    return Payload(text, sorted(first), False)


def _check_columns(table: Table, keys: list[str]) -> None:
    for key in keys:
        if key not in table.columns:
            raise ApiError(
                400,
                "PGRST204",
                f"Could not find the '{key}' column of '{table.name}' in the schema cache",
            )


def _content_headers(ctx: Context) -> list[tuple[str, str]]:
    headers = [("Content-Type", f"{ctx.media}; charset=utf-8")]
    if ctx.negotiated:
        headers.append(("Content-Profile", ctx.schema))
    return headers


def _not_singular(rows: int) -> ApiError:
    return ApiError(
        406,
        "PGRST116",
        "Cannot coerce the result to a single JSON object",
        details=f"The result contains {rows} rows",
    )


def _url_encode(text: str) -> str:
    # Network.HTTP.Base.urlEncode, which PostgREST uses: lower-case hex escapes
    return "".join(
        chr(b) if chr(b).isalnum() or chr(b) in "-._~" else f"%{b:02x}" for b in text.encode()
    )


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    """PostgREST's Content-Location query: sorted by key, repeated keys joined with commas."""
    merged: dict[str, list[str]] = {}
    for key, value in sorted(pairs, key=lambda kv: kv[0]):
        merged.setdefault(key, []).append(value)
    return "&".join(
        _url_encode(k) + "=" + ",".join(_url_encode(v) for v in vs) for k, vs in merged.items()
    )


def read(
    ctx: Context,
    table: Table,
    q: Query,
    prefs: Prefs,
    *,
    head: bool,
    range_header: str | None,
    pairs: list[tuple[str, str]],
) -> Reply:
    win = prefer.window(q, None if head else range_header, ctx.max_rows)
    stmt = statements.read(
        table, q, win, count=prefs.counts, singular=ctx.singular, strip_nulls=ctx.strip_nulls
    )
    total, page_total, body = ctx.cur.execute(stmt).fetchone()
    status, content_range = prefer.content_range(win.lower, page_total, total)
    canonical = canonical_query(pairs)
    headers = [
        ("Content-Range", content_range),
        ("Content-Location", f"/{table.name}" + (f"?{canonical}" if canonical else "")),
        *_content_headers(ctx),
    ]
    pref_applied = prefer.applied(
        prefs, resolution=False, missing=False, ret=False, max_affected=False
    )
    if pref_applied:
        headers.append(("Preference-Applied", pref_applied))
    if status == 416:
        return Reply(416, headers, b"" if head else prefer.out_of_bounds(win.lower, total).body())
    if ctx.singular and page_total != 1:
        raise _not_singular(page_total)
    return Reply(status, headers, b"" if head else body.encode())


def _run_write(
    ctx: Context,
    table: Table,
    mutation: Any,
    q: Query,
    prefs: Prefs,
    *,
    upsert_flag: bool = False,
) -> tuple[int, int | None, int, str | None, list[str] | None]:
    representation = prefs.get("return") == "representation"
    win = prefer.window(q, None, ctx.max_rows)
    stmt = statements.write(
        table,
        mutation,
        q,
        win,
        representation=representation,
        singular=ctx.singular,
        strip_nulls=ctx.strip_nulls,
        upsert_flag=upsert_flag,
        location=prefs.get("return") == "headers-only",
    )
    affected, inserted, page_total, body, location = ctx.cur.execute(stmt).fetchone()
    rows = page_total if representation else affected
    if ctx.singular and rows != 1:
        raise _not_singular(rows)
    return affected, inserted, rows, body, location


def _write_reply(
    ctx: Context, prefs: Prefs, status: int, headers: list[tuple[str, str]], body: str | None
) -> Reply:
    if prefs.get("return") == "representation":
        return Reply(status, headers + _content_headers(ctx), (body or "").encode())
    return Reply(status, headers)


def create(ctx: Context, table: Table, q: Query, prefs: Prefs, raw: bytes) -> Reply:
    payload = parse_payload(raw, q.columns)
    _check_columns(table, payload.keys)
    conflict = q.on_conflict or list(table.pk)
    resolution = prefs.get("resolution") if conflict else None
    source = statements.payload_source(
        table,
        payload.keys,
        payload.text,
        is_object=payload.is_object,
        defaults=prefs.get("missing") == "default",
    )
    mutation = statements.insert(
        table, payload.keys, source, conflict=conflict, resolution=resolution
    )
    merge = resolution == "merge-duplicates"
    _, inserted, rows, body, location = _run_write(
        ctx, table, mutation, q, prefs, upsert_flag=merge
    )
    headers = [("Content-Range", f"*/{rows if prefs.counts else '*'}")]
    pref_applied = prefer.applied(
        prefs, resolution=bool(resolution), missing=True, ret=True, max_affected=False
    )
    if pref_applied:
        headers.append(("Preference-Applied", pref_applied))
    if location is not None and rows == 1:
        query = "&".join(
            f"{_url_encode(k)}={_url_encode('eq.' + v)}"
            for k, v in zip(table.pk, location, strict=True)
        )
        headers.insert(0, ("Location", f"/{table.name}?{query}"))
    status = 200 if merge and (inserted or 0) <= 0 else 201
    return _write_reply(ctx, prefs, status, headers, body)


def _safeupdate(ctx: Context, q: Query, verb: str) -> None:
    # pg-safeupdate, which Supabase loads for API roles, refuses UPDATE/DELETE without WHERE;
    # PostgREST writes a WHERE clause exactly when the request has filters
    if ctx.safeupdate and not q.has_filters:
        raise ApiError(400, "21000", f"{verb} requires a WHERE clause")


def _check_max_affected(prefs: Prefs, affected: int) -> None:
    if prefs.strict and prefs.max_affected is not None and affected > prefs.max_affected:
        raise ApiError(
            400,
            "PGRST124",
            "Query result exceeds max-affected preference constraint",
            details=f"The query affects {affected} rows",
        )


def modify(ctx: Context, table: Table, q: Query, prefs: Prefs, raw: bytes) -> Reply:
    payload = parse_payload(raw, q.columns)
    _check_columns(table, payload.keys)
    if payload.keys:
        _safeupdate(ctx, q, "UPDATE")
        source = statements.payload_source(
            table,
            payload.keys,
            payload.text,
            is_object=payload.is_object,
            defaults=prefs.get("missing") == "default",
        )
        mutation = statements.update(table, payload.keys, source, q)
    else:
        mutation = statements.no_update(table)
    affected, _, rows, body, _ = _run_write(ctx, table, mutation, q, prefs)
    _check_max_affected(prefs, affected)
    shown = f"0-{rows - 1}" if rows > 0 else "*"
    headers = [("Content-Range", f"{shown}/{rows if prefs.counts else '*'}")]
    pref_applied = prefer.applied(
        prefs, resolution=False, missing=True, ret=True, max_affected=True
    )
    if pref_applied:
        headers.append(("Preference-Applied", pref_applied))
    status = 200 if prefs.get("return") == "representation" else 204
    return _write_reply(ctx, prefs, status, headers, body)


def remove(ctx: Context, table: Table, q: Query, prefs: Prefs) -> Reply:
    _safeupdate(ctx, q, "DELETE")
    affected, _, rows, body, _ = _run_write(ctx, table, statements.delete(table, q), q, prefs)
    _check_max_affected(prefs, affected)
    headers = [("Content-Range", f"*/{rows if prefs.counts else '*'}")]
    pref_applied = prefer.applied(
        prefs, resolution=False, missing=False, ret=True, max_affected=True
    )
    if pref_applied:
        headers.append(("Preference-Applied", pref_applied))
    status = 200 if prefs.get("return") == "representation" else 204
    return _write_reply(ctx, prefs, status, headers, body)


def error_reply(err: ApiError) -> Reply:
    return Reply(err.status, err.response_headers(), err.body())


def json_reply(status: int, payload: Any, content_type: str = JSON_UTF8) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, [("Content-Type", content_type)], body)
