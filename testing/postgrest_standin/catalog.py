"""What PostgREST keeps in its schema cache, read from pg_catalog on every request.

Real PostgREST loads the cache once and reloads it on `NOTIFY pgrst` (Supabase sends that after
DDL); reading it per request gives the same answers without the reload step.

Column types follow PostgREST's schema-cache rule, which the OpenAPI `format` and the error
messages depend on: a type from pg_catalog is printed without modifiers (`numeric`,
`character varying`, `timestamp with time zone`, `integer[]`), a domain over a pg_catalog type
as its base type, and any other type (enums, extension types, domains over those) as
`format_type(type, typmod)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from testing.postgrest_standin.errors import ApiError

_DOMAIN_BASES = """
WITH RECURSIVE dom(oid, base) AS (
    SELECT t.oid, t.typbasetype FROM pg_type t WHERE t.typtype = 'd'
  UNION ALL
    SELECT d.oid, b.typbasetype FROM dom d JOIN pg_type b ON b.oid = d.base AND b.typtype = 'd'
)
SELECT d.oid, d.base FROM dom d JOIN pg_type b ON b.oid = d.base WHERE b.typtype <> 'd'
"""

_COLUMNS = f"""
WITH bases AS ({_DOMAIN_BASES})
SELECT
    c.relname,
    a.attname,
    CASE
        WHEN t.typtype = 'd' AND bt.typnamespace = 'pg_catalog'::regnamespace
            THEN format_type(bt.oid, NULL)
        WHEN t.typtype <> 'd' AND t.typnamespace = 'pg_catalog'::regnamespace
            THEN format_type(a.atttypid, NULL)
        ELSE format_type(a.atttypid, a.atttypmod)
    END AS data_type,
    format_type(a.atttypid, a.atttypmod) AS nominal_type,
    NOT (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)) AS nullable,
    CASE
        WHEN t.typbasetype <> 0 AND ad.adbin IS NULL THEN pg_get_expr(t.typdefaultbin, 0)
        WHEN a.attidentity = 'd' THEN
            'nextval(' || quote_literal(
                pg_get_serial_sequence(c.oid::regclass::text, a.attname)::regclass::text
            ) || ')'
        WHEN a.attgenerated = 's' THEN NULL
        ELSE pg_get_expr(ad.adbin, ad.adrelid)
    END AS column_default,
    information_schema._pg_char_max_length(
        information_schema._pg_truetypid(a.*, t.*), information_schema._pg_truetypmod(a.*, t.*)
    )::integer AS max_length,
    ARRAY(
        SELECT e.enumlabel::text FROM pg_enum e
        WHERE e.enumtypid = coalesce(b.base, a.atttypid) ORDER BY e.enumsortorder
    ) AS enum_labels,
    col_description(c.oid, a.attnum) AS description
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN bases b ON b.oid = t.oid
LEFT JOIN pg_type bt ON bt.oid = b.base
LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
WHERE n.nspname = %(schema)s AND c.relname = ANY(%(names)s)
ORDER BY c.relname, a.attnum
"""

_RELATIONS = """
SELECT
    c.oid,
    c.relname,
    c.relkind,
    obj_description(c.oid, 'pg_class'),
    ARRAY(
        SELECT a.attname::text FROM pg_constraint k
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = ANY(k.conkey)
        WHERE k.conrelid = c.oid AND k.contype = 'p' ORDER BY a.attname
    ),
    c.relkind IN ('r', 'p') OR (pg_relation_is_updatable(c.oid::regclass, true) & 8) = 8,
    c.relkind IN ('r', 'p') OR (pg_relation_is_updatable(c.oid::regclass, true) & 4) = 4,
    c.relkind IN ('r', 'p') OR (pg_relation_is_updatable(c.oid::regclass, true) & 16) = 16
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition
ORDER BY c.relname
"""

_FOREIGN_KEYS = """
SELECT c.relname, a.attname, fc.relname, fa.attname
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
JOIN pg_class fc ON fc.oid = k.confrelid
JOIN pg_attribute fa ON fa.attrelid = k.confrelid AND fa.attnum = k.confkey[1]
WHERE k.contype = 'f' AND cardinality(k.conkey) = 1 AND n.nspname = %(schema)s
ORDER BY k.conname
"""


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str  # PostgREST's colType, e.g. "numeric", "character varying", "integer[]"
    nominal_type: str  # format_type with modifiers, used to type json_to_recordset
    nullable: bool
    default: str | None  # the default as SQL text, e.g. "nextval('items_id_seq')"
    max_length: int | None
    enum: tuple[str, ...]
    description: str | None


@dataclass
class Table:
    schema: str
    name: str
    kind: str  # pg_class.relkind
    description: str | None
    pk: tuple[str, ...]  # sorted by name, as PostgREST keeps it
    insertable: bool
    updatable: bool
    deletable: bool
    columns: dict[str, Column] = field(default_factory=dict)


def relations(cur: Any, schema: str) -> list[tuple[Any, ...]]:
    return list(cur.execute(_RELATIONS, {"schema": schema}).fetchall())


def tables(cur: Any, schema: str, names: list[str] | None = None) -> dict[str, Table]:
    """The tables, views and foreign tables of `schema` (all, or only `names`), with columns."""
    found: dict[str, Table] = {}
    for _oid, name, kind, desc, pk, ins, upd, dele in relations(cur, schema):
        if names is None or name in names:
            found[name] = Table(schema, name, kind, desc, tuple(pk), ins, upd, dele)
    if found:
        rows = cur.execute(_COLUMNS, {"schema": schema, "names": list(found)}).fetchall()
        for rel, name, dtype, ntype, nullable, default, maxlen, enum, desc in rows:
            found[rel].columns[name] = Column(
                name, dtype, ntype, nullable, default, maxlen, tuple(enum), desc
            )
    return found


def foreign_keys(cur: Any, schema: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Single-column foreign keys: (table, column) → (foreign table, foreign column)."""
    keys: dict[tuple[str, str], tuple[str, str]] = {}
    for table, column, ftable, fcolumn in cur.execute(_FOREIGN_KEYS, {"schema": schema}):
        keys.setdefault((table, column), (ftable, fcolumn))
    return keys


def function_names(cur: Any, schema: str) -> list[str]:
    sql = (
        "SELECT DISTINCT p.proname::text FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = %(schema)s AND p.prokind IN ('f', 'p') ORDER BY 1"
    )
    return [row[0] for row in cur.execute(sql, {"schema": schema})]


def schema_comment(cur: Any, schema: str) -> str | None:
    sql = "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %(s)s"
    row = cur.execute(sql, {"s": schema}).fetchone()
    return row[0] if row else None


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def closest(name: str, candidates: list[str], min_score: float = 0.75) -> str | None:
    """The candidate PostgREST's fuzzy hint would name: Levenshtein similarity ≥ min_score.

    PostgREST uses Data.FuzzySet, whose final score is 1 - distance / longer length on
    lower-cased strings; candidates are compared the same way here.
    """
    best, best_score = None, min_score
    for candidate in candidates:
        a, b = name.lower(), candidate.lower()
        score = 1 - _levenshtein(a, b) / max(len(a), len(b), 1)
        if score >= best_score and (best is None or score > best_score):
            best, best_score = candidate, score
    return best


def find_table(cur: Any, schema: str, name: str) -> Table:
    """The table, or PGRST205 with PostgREST's fuzzy "Perhaps you meant" hint."""
    found = tables(cur, schema, [name])
    if name in found:
        return found[name]
    match = closest(name, [row[1] for row in relations(cur, schema)])
    raise ApiError(
        404,
        "PGRST205",
        f"Could not find the table '{schema}.{name}' in the schema cache",
        hint=f"Perhaps you meant the table '{schema}.{match}'" if match else None,
    )
