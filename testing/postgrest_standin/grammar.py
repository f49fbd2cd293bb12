"""PostgREST's query-string grammar: select, filters, and/or trees, order, columns, ranges.

Parsing happens before the database is touched, as in PostgREST, so a malformed request gets
PGRST100 whether or not the table exists. Embedded resources (`rel(cols)`, `rel.col=...`) and
aggregates are recognised only to be refused.
"""

from __future__ import annotations

import re

from testing.postgrest_standin.errors import ApiError, not_embedded
from testing.postgrest_standin.filters import parse_filter, parse_logic
from testing.postgrest_standin.syntax import (
    EMBEDDABLE,
    RESERVED,
    Cursor,
    Field,
    OrderTerm,
    Query,
    SelectItem,
)


def _select_item(cur: Cursor) -> SelectItem:
    cur.skip_ws()
    if cur.peek(3) == "...":
        raise embeds_unsupported(cur.text)
    if cur.eat("*"):
        return SelectItem(Field("*"))
    start = cur.pos
    alias = None
    try:
        candidate = cur.name()
        if cur.peek() == ":" and cur.peek(2) != "::":
            cur.pos += 1
            alias = candidate
        else:
            cur.pos = start
    except ApiError:
        cur.pos = start
    if cur.peek(7) == "count()":
        raise aggregates_not_allowed()
    fld = cur.field()
    if cur.peek() in ("(", "!"):
        raise embeds_unsupported(cur.text)
    cast = None
    if cur.eat("::"):
        begin = cur.pos
        while not cur.at_end() and (cur.peek().isalnum() or cur.peek() in "_ $"):
            cur.pos += 1
        cast = cur.text[begin : cur.pos].strip()
        if not cast:
            raise cur.fail("letter or digit")
    if re.match(r"\.(sum|avg|count|max|min)\(\)", cur.text[cur.pos :]):
        raise aggregates_not_allowed()
    return SelectItem(fld, alias, cast)


def parse_select(text: str) -> list[SelectItem]:
    cur = Cursor(text, "select parameter")
    items: list[SelectItem] = []
    cur.skip_ws()
    if cur.at_end():
        return items
    while True:
        items.append(_select_item(cur))
        cur.skip_ws()
        if cur.at_end():
            return items
        if not cur.eat(","):
            raise cur.fail('"->>", "->", "::", "," or end of input')


def parse_order(value: str) -> list[OrderTerm]:
    cur = Cursor(value, "order")
    terms = []
    while True:
        cur.skip_ws()
        fld = cur.field()
        if cur.peek() == "(":
            raise not_embedded(fld.name)
        direction = nulls = None
        for word in ("asc", "desc"):
            if cur.eat("." + word):
                direction = word
        for word in ("nullsfirst", "nullslast"):
            if cur.eat("." + word):
                nulls = word
        cur.skip_ws()
        if not cur.at_end() and cur.peek() != ",":
            at = cur.pos + 1 if cur.peek() == "." else cur.pos
            raise cur.fail('"asc", "desc", "nullsfirst" or "nullslast"', at)
        terms.append(OrderTerm(fld, direction, nulls))
        if not cur.eat(","):
            return terms


def parse_columns(value: str, what: str) -> list[str]:
    cur = Cursor(value, what)
    names = []
    while True:
        cur.skip_ws()
        names.append(cur.name())
        cur.skip_ws()
        if cur.at_end():
            return names
        cur.expect(",", '",", "," or end of input')


def _integer(value: str) -> int | None:
    return int(value) if re.fullmatch(r"-?\d+", value) else None


def parse_query(pairs: list[tuple[str, str]]) -> Query:
    """Build a `Query` from the decoded query string (in request order)."""
    q = Query()
    seen: set[str] = set()
    for key, value in pairs:
        last = key.rsplit(".", 1)[-1]
        if key in RESERVED:
            if key in seen:
                continue  # PostgREST reads the first occurrence only
            seen.add(key)
            if key == "select":
                q.select = parse_select(value)
            elif key == "columns":
                q.columns = parse_columns(value, "columns parameter")
            elif key == "on_conflict":
                q.on_conflict = parse_columns(value, "on_conflict parameter")
        elif last in EMBEDDABLE:
            path = [p for p in key.split(".")[:-1] if p != "not"]
            if last in ("and", "or"):
                q.logic.append(parse_logic(key, value))
            elif path:
                raise not_embedded(path[0])
            elif last == "order":
                q.order.extend(parse_order(value))
            elif last == "limit":
                q.limit = _integer(value)
            else:
                q.offset = _integer(value)
        else:
            q.filters.append(parse_filter(key, value))
    return q


def rpc_arg_names(pairs: list[tuple[str, str]]) -> list[str]:
    """The argument names a GET /rpc/<fn> call passes (every key that is not reserved)."""
    names = []
    for key, _ in pairs:
        if key not in RESERVED and key.rsplit(".", 1)[-1] not in EMBEDDABLE:
            names.append(key)
    return sorted(set(names))


def embeds_unsupported(select: str) -> ApiError:
    return ApiError(
        400,
        "PGRST100",
        "Embedded resources are not supported by this stand-in",
        details=f"select={select}",
        hint="Select columns of one table and query related tables separately.",
    )


def aggregates_not_allowed() -> ApiError:
    # Supabase leaves db-aggregates-enabled off, so this is what a hosted project answers
    return ApiError(400, "PGRST123", "Use of aggregate functions is not allowed")
