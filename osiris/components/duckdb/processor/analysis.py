"""What the processor learns from the query before running it.

The query is parsed by DuckDB itself (`json_serialize_sql`), never by a regex, and every
conclusion errs on the safe side: an input is streamed only when the syntax tree shows it is
scanned at most once, and column metadata is carried over only for output columns that are
plain references to an input column. Anything not understood means "materialize" / "carry
nothing"; that costs speed or a column type, never a wrong answer.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb

# Functions in a select list that turn one input row into several (a key would repeat).
_ROW_MULTIPLIERS = {"unnest", "unlist", "generate_subscripts"}
# Table functions that read a table named by a string, invisible as a table reference.
_TABLE_BY_NAME = {"query", "query_table"}


class _Doubt(Exception):
    pass


def parse(con: duckdb.DuckDBPyConnection, query: str) -> list[dict[str, Any]] | None:
    """The statements' syntax trees, or None when DuckDB cannot serialize them (not a SELECT,
    a syntax error: the query itself then reports the error as before)."""
    import duckdb

    try:
        rows = con.execute("select json_serialize_sql(?)", [query]).fetchall()
    except duckdb.Error:
        return None
    tree = json.loads(rows[0][0]) if rows else {}
    statements = tree.get("statements")
    if tree.get("error") or not isinstance(statements, list) or not statements:
        return None
    return statements


@dataclass
class _Cte:
    reads: Counter[str]
    uses: int = 0


def scan_counts(statements: list[dict[str, Any]], names: dict[str, str]) -> Counter[str] | None:
    """How many times the query scans each input (by step id); None when unsure.

    `names` maps a lower-case table name to its step id. A CTE's reads count once per
    reference to it; anything inside a recursive CTE counts as many (it runs per iteration).
    """
    try:
        return _walk(statements, names, {})
    except _Doubt:
        return None


def _walk(node: Any, names: dict[str, str], scope: dict[str, _Cte]) -> Counter[str]:
    total: Counter[str] = Counter()
    if isinstance(node, list):
        for item in node:
            total += _walk(item, names, scope)
        return total
    if not isinstance(node, dict):
        return total
    kind = node.get("type")
    if kind == "BASE_TABLE":
        name = str(node.get("table_name", "")).lower()
        cte = None if node.get("schema_name") else scope.get(name)
        if cte is not None:
            cte.uses += 1
            return Counter(cte.reads)
        return Counter({names[name]: 1}) if name in names else total
    if kind == "TABLE_FUNCTION" and _function_name(node.get("function")) in _TABLE_BY_NAME:
        raise _Doubt
    local = dict(scope)
    defined = []
    for entry in _cte_entries(node):
        cte = _Cte(_walk(entry.get("value"), names, local))
        local[str(entry.get("key", "")).lower()] = cte
        defined.append(cte)
    for key, value in node.items():
        if key != "cte_map":
            total += _walk(value, names, local)
    for cte in defined:
        if cte.uses == 0:  # DuckDB may still evaluate an unreferenced (materialized) CTE
            total += cte.reads
    if kind == "RECURSIVE_CTE_NODE":
        total = Counter({step: 2 for step in total})
    return total


def _cte_entries(node: dict[str, Any]) -> list[dict[str, Any]]:
    cte_map = node.get("cte_map")
    return list(cte_map.get("map") or []) if isinstance(cte_map, dict) else []


def _function_name(node: Any) -> str:
    return str(node.get("function_name", "")).lower() if isinstance(node, dict) else ""


@dataclass
class Lineage:
    """Per output column (by position): the (step id, input column) it passes through, or None.

    `keeps_nulls` is False when an outer join or ROLLUP/CUBE/GROUPING SETS can put NULLs into
    a passed-through column; `rows_of` is the step id when every output row is one input row
    of a single input (projection, filter, ordering, limits, plain GROUP BY), so its key holds.
    """

    sources: list[tuple[str, str] | None] = field(default_factory=list)
    keeps_nulls: bool = True
    rows_of: str | None = None


def lineage(
    statements: list[dict[str, Any]], names: dict[str, str], columns: dict[str, list[str]]
) -> Lineage | None:
    """Which output columns are input columns passed through unchanged; None when unsure.

    `columns` holds each input's column names (by step id). Only a single plain SELECT whose
    FROM is inputs joined together is analysed; subqueries and CTEs in FROM, set operations,
    PIVOT, NATURAL/USING joins under `*` and the like give None.
    """
    if len(statements) != 1:
        return None
    node = statements[0].get("node") or {}
    if node.get("type") != "SELECT_NODE":
        return None
    hidden = {str(e.get("key", "")).lower() for e in _cte_entries(node)}
    tables: list[tuple[str, str]] = []  # (alias, step id) in FROM order
    flags = {"outer": False, "using": False}
    if not _from_tables(node.get("from_table"), names, hidden, tables, flags):
        return None
    if len({alias for alias, _ in tables}) != len(tables):
        return None
    result = Lineage()
    for expr in node.get("select_list") or []:
        if expr.get("class") == "STAR":
            if flags["using"] or not _expand_star(expr, tables, columns, result.sources):
                return None
        elif expr.get("class") == "COLUMN_REF":
            result.sources.append(_resolve(expr.get("column_names") or [], tables, columns))
        else:
            result.sources.append(None)
    plain_groups = len(node.get("group_sets") or []) <= 1
    result.keeps_nulls = plain_groups and not flags["outer"]
    if len(tables) == 1 and plain_groups and not _multiplies_rows(node.get("select_list")):
        result.rows_of = tables[0][1]
    return result


def _from_tables(
    ref: Any,
    names: dict[str, str],
    hidden: set[str],
    out: list[tuple[str, str]],
    flags: dict[str, bool],
) -> bool:
    if not isinstance(ref, dict):
        return False
    kind = ref.get("type")
    if kind == "EMPTY":
        return True
    if kind == "BASE_TABLE":
        name = str(ref.get("table_name", "")).lower()
        if (
            ref.get("schema_name") not in ("", "main")
            or ref.get("catalog_name")
            or ref.get("column_name_alias")
            or name in hidden
            or name not in names
        ):
            return False
        out.append((str(ref.get("alias") or name).lower(), names[name]))
        return True
    if kind == "JOIN" and ref.get("ref_type") in ("REGULAR", "CROSS"):
        join_type = ref.get("join_type")
        if join_type not in ("INNER", "LEFT", "RIGHT", "OUTER"):
            return False  # semi/anti/mark joins change which columns `*` yields
        flags["outer"] = flags["outer"] or join_type != "INNER"
        flags["using"] = flags["using"] or bool(ref.get("using_columns"))
        return _from_tables(ref.get("left"), names, hidden, out, flags) and _from_tables(
            ref.get("right"), names, hidden, out, flags
        )
    return False


def _expand_star(
    expr: dict[str, Any],
    tables: list[tuple[str, str]],
    columns: dict[str, list[str]],
    sources: list[tuple[str, str] | None],
) -> bool:
    if (
        expr.get("columns")
        or expr.get("expr")
        or expr.get("replace_list")
        or expr.get("qualified_exclude_list")
    ):
        return False
    relation = str(expr.get("relation_name") or "").lower()
    if relation and relation not in {alias for alias, _ in tables}:
        return False
    excluded = {str(name).lower() for name in expr.get("exclude_list") or []}
    for alias, step in tables:
        if relation and alias != relation:
            continue
        sources.extend((step, c) for c in columns[step] if c.lower() not in excluded)
    return True


def _resolve(
    parts: list[str], tables: list[tuple[str, str]], columns: dict[str, list[str]]
) -> tuple[str, str] | None:
    if len(parts) == 2:
        scope = [(a, s) for a, s in tables if a == parts[0].lower()]
        if not scope:
            return None  # a struct field, not a table-qualified column
    elif len(parts) == 1:
        scope = tables
    else:
        return None
    found = [(s, c) for _, s in scope for c in columns[s] if c.lower() == parts[-1].lower()]
    return found[0] if len(found) == 1 else None


def _multiplies_rows(node: Any) -> bool:
    if isinstance(node, list):
        return any(_multiplies_rows(item) for item in node)
    if not isinstance(node, dict):
        return False
    if node.get("class") == "FUNCTION" and _function_name(node) in _ROW_MULTIPLIERS:
        return True
    return any(_multiplies_rows(value) for value in node.values())
