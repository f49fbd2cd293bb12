"""The SQL PostgREST runs, composed with psycopg's `sql` module.

Every identifier goes through `sql.Identifier` and every value through `sql.Literal`, which
renders a string as an untyped literal (`'1'`), so PostgreSQL casts filter values to the
column's type exactly as it does for PostgREST's unknown-typed parameters: `id=eq.null` on a
bigint column fails with 22P02. Response bodies are built by `json_agg` in the database, as
PostgREST builds them, so every value is converted by PostgreSQL itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from testing.postgrest_standin.catalog import Table
from testing.postgrest_standin.errors import ApiError
from testing.postgrest_standin.syntax import (
    FTS_OPS,
    QUANT_OPS,
    SIMPLE_OPS,
    Field,
    Filter,
    Logic,
    OrderTerm,
    Query,
    SelectItem,
)

_CAST = re.compile(r"[A-Za-z0-9_ $]+")
_INSERTED = "pgrst_standin_inserted"  # flag column on upserts: was the row inserted (xmax = 0)?


@dataclass(frozen=True)
class Window:
    """The rows to return: OFFSET `lower`, and LIMIT up to `upper` inclusive (None: no limit)."""

    lower: int = 0
    upper: int | None = None

    def clause(self) -> sql.Composable:
        parts = []
        if self.upper is not None:
            parts.append(
                sql.SQL(" LIMIT {}").format(sql.Literal(max(self.upper - self.lower + 1, 0)))
            )
        if self.lower > 0:
            parts.append(sql.SQL(" OFFSET {}").format(sql.Literal(self.lower)))
        return sql.Composed(parts)


def field_sql(qual: Sequence[str], fld: Field) -> sql.Composable:
    out: sql.Composable = sql.Identifier(*qual, fld.name)
    for arrow, operand, is_index in fld.path:
        cast = "::int" if is_index else ""
        out = sql.SQL("{}{}{}{}").format(out, sql.SQL(arrow), sql.Literal(operand), sql.SQL(cast))
    return out


def _array_literal(values: Sequence[str]) -> str:
    quoted = ('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return "{" + ",".join(quoted) + "}"


def filter_sql(qual: Sequence[str], flt: Filter) -> sql.Composable:
    target = field_sql(qual, flt.field)
    value = flt.value if isinstance(flt.value, str) else ""
    if flt.op in QUANT_OPS:
        if flt.op in ("like", "ilike"):
            value = value.replace("*", "%")
        operand: sql.Composable = sql.Literal(value)
        if flt.quant:
            operand = sql.SQL("{}({})").format(sql.SQL(flt.quant.upper()), operand)
        expr = sql.SQL("{} {} {}").format(target, sql.SQL(QUANT_OPS[flt.op]), operand)
    elif flt.op in SIMPLE_OPS:
        expr = sql.SQL("{} {} {}").format(target, sql.SQL(SIMPLE_OPS[flt.op]), sql.Literal(value))
    elif flt.op == "in":
        array = sql.Literal(_array_literal(flt.value))
        expr = sql.SQL("{} = ANY ({})").format(target, array)
    elif flt.op == "is":
        keyword = {"null": "NULL", "not_null": "NOT NULL"}.get(value, value.upper())
        expr = sql.SQL("{} IS {}").format(target, sql.SQL(keyword))
    elif flt.op == "isdistinct":
        expr = sql.SQL("{} IS DISTINCT FROM {}").format(target, sql.Literal(value))
    else:
        args = [sql.Literal(flt.lang)] if flt.lang else []
        args.append(sql.Literal(value))
        query = sql.SQL("{}({})").format(sql.SQL(FTS_OPS[flt.op]), sql.SQL(", ").join(args))
        expr = sql.SQL("{} @@ {}").format(target, query)
    return sql.SQL("NOT {}").format(expr) if flt.negated else expr


def logic_sql(qual: Sequence[str], node: Filter | Logic) -> sql.Composable:
    if isinstance(node, Filter):
        return filter_sql(qual, node)
    joiner = sql.SQL(" AND " if node.op == "and" else " OR ")
    inner = sql.SQL("({})").format(joiner.join(logic_sql(qual, c) for c in node.children))
    return sql.SQL("NOT {}").format(inner) if node.negated else inner


def where_sql(qual: Sequence[str], q: Query) -> sql.Composable:
    terms = [filter_sql(qual, f) for f in q.filters] + [logic_sql(qual, t) for t in q.logic]
    if not terms:
        return sql.SQL("")
    return sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(terms))


def _alias(item: SelectItem) -> str | None:
    if item.alias:
        return item.alias
    if item.field.path:
        # PostgREST names a JSON path after its last key: data->a->>b is "b", data->0 is "data"
        keys = [operand for _, operand, is_index in item.field.path if not is_index]
        return keys[-1] if keys else item.field.name
    return None


def select_sql(qual: Sequence[str], items: Sequence[SelectItem]) -> sql.Composable:
    parts: list[sql.Composable] = []
    for item in items:
        if item.field.name == "*" and not item.field.path:
            parts.append(sql.SQL("{}.*").format(sql.Identifier(*qual)))
            continue
        expr: sql.Composable = field_sql(qual, item.field)
        if item.cast:
            if not _CAST.fullmatch(item.cast):
                raise ApiError(400, "PGRST100", f"invalid cast type: {item.cast}")
            expr = sql.SQL("CAST({} AS {})").format(expr, sql.SQL(item.cast))
        alias = _alias(item)
        if alias is not None:
            expr = sql.SQL("{} AS {}").format(expr, sql.Identifier(alias))
        parts.append(expr)
    return sql.SQL(", ").join(parts)


def order_sql(qual: Sequence[str], terms: Sequence[OrderTerm]) -> sql.Composable:
    if not terms:
        return sql.SQL("")
    parts = []
    for term in terms:
        words = [
            {"asc": "ASC", "desc": "DESC"}.get(term.direction or "", ""),
            {"nullsfirst": "NULLS FIRST", "nullslast": "NULLS LAST"}.get(term.nulls or "", ""),
        ]
        suffix = " ".join(w for w in words if w)
        parts.append(
            sql.SQL("{}{}").format(
                field_sql(qual, term.field), sql.SQL(" " + suffix if suffix else "")
            )
        )
    return sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(parts))


def _body_sql(singular: bool, strip_nulls: bool) -> sql.Composable:
    agg = "json_strip_nulls(json_agg(_postgrest_t))" if strip_nulls else "json_agg(_postgrest_t)"
    if singular:
        return sql.SQL(f"coalesce(({agg}->0)::text, 'null')")
    return sql.SQL(f"coalesce({agg}, '[]')::text")


def read(
    table: Table, q: Query, window: Window, *, count: bool, singular: bool, strip_nulls: bool
) -> sql.Composable:
    """Columns: total (NULL without count), page_total, body."""
    qual = (table.schema, table.name)
    source = sql.Identifier(*qual)
    where = where_sql(qual, q)
    total = (
        sql.SQL("(SELECT pg_catalog.count(*) FROM {}{})").format(source, where)
        if count
        else sql.SQL("NULL::bigint")
    )
    return sql.SQL(
        "WITH pgrst_source AS (SELECT {select} FROM {source}{where}{order}{window}) "
        "SELECT {total} AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, "
        "{body} AS body FROM (SELECT * FROM pgrst_source) _postgrest_t"
    ).format(
        select=select_sql(qual, q.select),
        source=source,
        where=where,
        order=order_sql(qual, q.order),
        window=window.clause(),
        total=total,
        body=_body_sql(singular, strip_nulls),
    )


def payload_source(
    table: Table, cols: Sequence[str], body: str, *, is_object: bool, defaults: bool
) -> sql.Composable:
    """`FROM ... pgrst_body`: the JSON body turned into typed rows (PostgREST's fromJsonBodyF)."""
    kind = "jsonb" if defaults else "json"
    parts = [
        sql.SQL("FROM (SELECT {}::{} AS json_data) pgrst_payload, ").format(
            sql.Literal(body), sql.SQL(kind)
        )
    ]
    data = sql.SQL("pgrst_payload.json_data")
    if defaults:
        pairs = []
        for name in cols:
            default = table.columns[name].default
            if default is not None:
                # the default is SQL text that PostgreSQL itself printed (pg_get_expr)
                pairs.append(sql.SQL("{}, {}").format(sql.Literal(name), sql.SQL(default)))
        defs = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs))
        if is_object:
            parts.append(
                sql.SQL(
                    "LATERAL (SELECT {} || pgrst_payload.json_data AS val) pgrst_json_defs, "
                ).format(defs)
            )
        else:
            parts.append(
                sql.SQL(
                    "LATERAL (SELECT jsonb_agg({} || elem) AS val "
                    "FROM jsonb_array_elements(pgrst_payload.json_data) elem) pgrst_json_defs, "
                ).format(defs)
            )
        data = sql.SQL("pgrst_json_defs.val")
    if cols:
        func = f"{kind}_to_record" if is_object else f"{kind}_to_recordset"
        typed = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(table.columns[c].nominal_type))
            for c in cols
        )
        names = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
        rows: sql.Composable = sql.SQL("SELECT {} FROM {}({}) AS _({})").format(
            names, sql.SQL(func), data, typed
        )
    elif is_object:
        rows = sql.SQL("SELECT FROM (VALUES (1)) _")
    else:
        rows = sql.SQL("SELECT FROM {}_array_elements({}) _").format(sql.SQL(kind), data)
    parts.append(sql.SQL("LATERAL ({}) pgrst_body").format(rows))
    return sql.Composed(parts)


def insert(
    table: Table,
    cols: Sequence[str],
    source: sql.Composable,
    *,
    conflict: Sequence[str] | None,
    resolution: str | None,
) -> sql.Composable:
    target = sql.Identifier(table.schema, table.name)
    names = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    values = sql.SQL(", ").join(sql.Identifier("pgrst_body", c) for c in cols)
    stmt = sql.SQL("INSERT INTO {} AS pgrst_target ({}) SELECT {} {}").format(
        target, names, values, source
    )
    if not cols:
        stmt = sql.SQL("INSERT INTO {} AS pgrst_target SELECT {}").format(target, source)
    flag: sql.Composable = sql.SQL("")
    if conflict and resolution:
        on = sql.SQL(", ").join(sql.Identifier(c) for c in conflict)
        if resolution == "merge-duplicates" and cols:
            sets = sql.SQL(", ").join(
                sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in cols
            )
            stmt = sql.SQL("{} ON CONFLICT ({}) DO UPDATE SET {}").format(stmt, on, sets)
        else:
            stmt = sql.SQL("{} ON CONFLICT ({}) DO NOTHING").format(stmt, on)
        if resolution == "merge-duplicates":
            # a row inserted by this statement has xmax 0; one updated by ON CONFLICT has our xid
            flag = sql.SQL(", (pgrst_target.xmax = 0) AS {}").format(sql.Identifier(_INSERTED))
    return sql.SQL("{} RETURNING pgrst_target.*{}").format(stmt, flag)


def update(table: Table, cols: Sequence[str], source: sql.Composable, q: Query) -> sql.Composable:
    qual = (table.schema, table.name)
    sets = sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(c), sql.Identifier("pgrst_body", c)) for c in cols
    )
    return sql.SQL("UPDATE {} SET {} {}{} RETURNING {}.*").format(
        sql.Identifier(*qual), sets, source, where_sql(qual, q), sql.Identifier(*qual)
    )


def no_update(table: Table) -> sql.Composable:
    """PATCH with no columns: PostgREST selects nothing instead of running an empty UPDATE."""
    qual = sql.Identifier(table.schema, table.name)
    return sql.SQL("SELECT {}.* FROM {} WHERE false").format(qual, qual)


def delete(table: Table, q: Query) -> sql.Composable:
    qual = (table.schema, table.name)
    return sql.SQL("DELETE FROM {}{} RETURNING {}.*").format(
        sql.Identifier(*qual), where_sql(qual, q), sql.Identifier(*qual)
    )


def write(
    table: Table,
    mutation: sql.Composable,
    q: Query,
    window: Window,
    *,
    representation: bool,
    singular: bool,
    strip_nulls: bool,
    upsert_flag: bool,
    location: bool,
) -> sql.Composable:
    """Columns: affected, inserted (upserts only), page_total, body, location (pk values)."""
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in table.columns)
    inserted = (
        sql.SQL("pg_catalog.count(*) FILTER (WHERE {})").format(sql.Identifier(_INSERTED))
        if upsert_flag
        else sql.SQL("NULL::bigint")
    )
    if representation:
        rows = sql.SQL("SELECT {} FROM (SELECT {} FROM pgrst_source) {}{}").format(
            select_sql((table.name,), q.select), cols, sql.Identifier(table.name), window.clause()
        )
        body: sql.Composable = sql.SQL(
            "SELECT pg_catalog.count(_postgrest_t) AS page_total, {} AS body FROM ({}) _postgrest_t"
        ).format(_body_sql(singular, strip_nulls), rows)
    else:
        body = sql.SQL("SELECT NULL::bigint AS page_total, NULL::text AS body")
    pk: sql.Composable = sql.SQL("NULL::text[]")
    if location and table.pk:
        values = sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in table.pk)
        pk = sql.SQL("(SELECT ARRAY[{}] FROM pgrst_source LIMIT 1)").format(values)
    return sql.SQL(
        "WITH pgrst_source AS ({mutation}) "
        "SELECT s.affected, s.inserted, b.page_total, b.body, {pk} AS location "
        "FROM (SELECT pg_catalog.count(*) AS affected, {inserted} AS inserted "
        "FROM pgrst_source) s, ({body}) b"
    ).format(mutation=mutation, pk=pk, inserted=inserted, body=body)
