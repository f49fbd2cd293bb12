"""The read options of supabase.extractor (`select`, `filter`, `order`): PostgREST's grammar,
parsed once and rendered either as PostgREST query parameters or as SQL, so both channels
read the same rows.

    select: "id, title, year:release_year, price::text"   (columns, `alias:column`, `::type`)
    filter: {status: active, year: "gte.2000", genre: [drama, comedy], deleted_at: null,
             title: "not.ilike.*test*"}
    order:  "release_year.desc.nullslast,title"

A filter value written as PostgREST writes it (`op.value`, op one of eq neq gt gte lt lte like
ilike in is, optionally after `not.`) is used as such; any other string, number or boolean
means equality, a list means `in`, and null means `is.null`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from osiris.components.api import StepError

__all__ = ["Filter", "Item", "Order", "parse_filter", "parse_order", "parse_select"]

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$ ]*?)'
_ITEM = re.compile(
    rf"^\s*(?:({_IDENT})\s*:\s*)?({_IDENT})\s*(?:::\s*([A-Za-z_][A-Za-z0-9_ ]*(?:\[\])?))?\s*$"
)
_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "like", "ilike", "in", "is")
_OPERATOR_VALUE = re.compile(rf"^(not\.)?({'|'.join(_OPERATORS)})\.(.*)$", re.S)
_SQL = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "like": "LIKE"}
_IS = {
    "null": "NULL",
    "not_null": "NOT NULL",
    "true": "TRUE",
    "false": "FALSE",
    "unknown": "UNKNOWN",
}


@dataclass(frozen=True)
class Item:
    """One entry of `select`: `column`, shown as `alias` (when renamed), cast to `cast`."""

    column: str
    alias: str | None = None
    cast: str | None = None

    @property
    def name(self) -> str:
        return self.alias or self.column


@dataclass(frozen=True)
class Filter:
    column: str
    op: str  # one of _OPERATORS
    value: Any  # text, or a list of texts for `in`
    negated: bool = False


@dataclass(frozen=True)
class Order:
    column: str
    desc: bool = False
    nulls: str | None = None  # "first" | "last"


def _unquote(name: str) -> str:
    name = name.strip()
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


def _split(text: str) -> list[str]:
    """Split on commas outside double quotes and parentheses."""
    parts, depth, quoted, current = [], 0, False, ""
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        if ch == "," and not quoted and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


def parse_select(text: str | None) -> list[Item] | None:
    """The columns `select` names; None for all (`*` or no select)."""
    if text is None or text.strip() in ("", "*"):
        return None
    items = []
    for part in _split(text):
        if "(" in part:
            raise StepError(
                "config.invalid",
                f"select '{part.strip()}': embedded resources and aggregates are not supported; "
                "name the table's own columns",
            )
        match = _ITEM.match(part)
        if match is None or match.group(2).strip() == "*":
            raise StepError(
                "config.invalid",
                f"select '{part.strip()}' is not a column; write `column`, `alias:column` or "
                "`column::type`, separated by commas",
            )
        alias, column, cast = match.groups()
        items.append(Item(_unquote(column), _unquote(alias) if alias else None, cast))
    return items


def parse_filter(filters: Mapping[str, Any] | None) -> list[Filter]:
    found = []
    for column, value in (filters or {}).items():
        found.append(_filter(column, value))
    return found


def _filter(column: str, value: Any) -> Filter:
    if value is None:
        return Filter(column, "is", "null")
    if isinstance(value, bool):
        return Filter(column, "eq", "true" if value else "false")
    if isinstance(value, list):
        return Filter(column, "in", [_text(v) for v in value])
    if isinstance(value, str):
        match = _OPERATOR_VALUE.match(value)
        if match is not None:
            negated, op, rest = bool(match.group(1)), match.group(2), match.group(3)
            if op == "in":
                return Filter(column, op, _in_list(column, rest), negated)
            if op == "is" and rest.lower() not in _IS:
                raise StepError(
                    "config.invalid",
                    f"filter {column}: 'is.{rest}' must be is.null, is.not_null, is.true, "
                    "is.false or is.unknown",
                )
            return Filter(column, op, rest.lower() if op == "is" else rest, negated)
    return Filter(column, "eq", _text(value))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def _in_list(column: str, text: str) -> list[str]:
    if not (text.startswith("(") and text.endswith(")")):
        raise StepError(
            "config.invalid", f"filter {column}: write in.(a,b,c), or give a list of values"
        )
    values = []
    for raw in _split(text[1:-1]):
        part = raw.strip()
        if part.startswith('"') and part.endswith('"') and len(part) >= 2:
            part = re.sub(r"\\(.)", r"\1", part[1:-1])
        values.append(part)
    return [] if values == [""] else values


def parse_order(text: str | None) -> list[Order]:
    found = []
    for part in _split(text or ""):
        if not part.strip():
            continue
        tokens = part.strip().split(".")
        column, flags = tokens[0], [t.lower() for t in tokens[1:]]
        desc, nulls = False, None
        for flag in flags:
            if flag in ("asc", "desc"):
                desc = flag == "desc"
            elif flag in ("nullsfirst", "nullslast"):
                nulls = flag.removeprefix("nulls")
            else:
                raise StepError(
                    "config.invalid",
                    f"order '{part.strip()}': write column[.asc|.desc][.nullsfirst|.nullslast]",
                )
        found.append(Order(_unquote(column), desc, nulls))
    return found


# -- rendering ---------------------------------------------------------------------------


def _rest_name(name: str) -> str:
    return f'"{name}"' if re.search(r'[,.:()"\s]', name) else name


def rest_select(items: list[Item] | None) -> str:
    if items is None:
        return "*"
    parts = []
    for item in items:
        text = _rest_name(item.column) + (f"::{item.cast}" if item.cast else "")
        parts.append(f"{_rest_name(item.alias)}:{text}" if item.alias else text)
    return ",".join(parts)


def rest_filters(filters: list[Filter]) -> list[tuple[str, str]]:
    params = []
    for f in filters:
        if f.op == "in":
            listed = ",".join(
                '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in f.value
            )
            value = f"({listed})"
        else:
            value = str(f.value)
        params.append((f.column, ("not." if f.negated else "") + f"{f.op}.{value}"))
    return params


def rest_order(orders: list[Order]) -> str:
    return ",".join(
        _rest_name(o.column)
        + (".desc" if o.desc else ".asc")
        + (f".nulls{o.nulls}" if o.nulls else "")
        for o in orders
    )


def sql_select(items: list[Item], quote: Any) -> str:
    parts = []
    for item in items:
        expr = quote(item.column) + (f"::{item.cast}" if item.cast else "")
        parts.append(f"{expr} AS {quote(item.name)}" if item.alias or item.cast else expr)
    return ", ".join(parts)


def sql_where(filters: list[Filter], quote: Any, literal: Any) -> str:
    """The filters as one SQL condition ("" for none); values are untyped literals, so the
    database casts them to the column's type, as PostgREST has it do."""
    conditions = []
    for f in filters:
        column = quote(f.column)
        if f.op == "in":
            expr = f"{column} IN ({', '.join(literal(v) for v in f.value)})" if f.value else "FALSE"
        elif f.op == "is":
            expr = f"{column} IS {_IS[f.value]}"
        elif f.op == "ilike":
            expr = f"{column} ILIKE {literal(f.value.replace('*', '%'))}"
        elif f.op == "like":
            expr = f"{column} LIKE {literal(f.value.replace('*', '%'))}"
        else:
            expr = f"{column} {_SQL[f.op]} {literal(f.value)}"
        conditions.append(f"NOT ({expr})" if f.negated else expr)
    return " AND ".join(conditions)


def sql_order(orders: list[Order], quote: Any) -> str:
    return ", ".join(
        quote(o.column)
        + (" DESC" if o.desc else " ASC")
        + (f" NULLS {o.nulls.upper()}" if o.nulls else "")
        for o in orders
    )
