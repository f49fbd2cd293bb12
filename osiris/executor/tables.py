"""Many-table steps, expanded per table when the run starts.

An extractor step with `tables` (manifest: `many_tables`) asks its driver which tables those
are (`driver.tables(ctx)`), and becomes one step per table, `<id>[<table>]`, reading that
`table`; each writer that consumes it (manifest: `per_table`) becomes `<writer>[<table>]`,
writing the table of that name (`table_prefix` first) or the path with `{table}` filled in.
The scheduler then runs them as it runs any steps, so tables are copied side by side, each
with its own stream, schema, events and metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from osiris.components import load_driver
from osiris.components.api import StepContext

TABLE_FIELD = "{table}"

ContextOf = Callable[[Mapping[str, Any]], StepContext]


def table_step_id(step_id: str, table: str) -> str:
    return f"{step_id}[{table}]"


def expand(
    steps: list[dict[str, Any]], context_of: ContextOf
) -> tuple[list[dict[str, Any]], dict[str, list[str]], dict[str, Exception]]:
    """The steps with every many-table step and its writers replaced by per-table steps; the
    tables of each many-table step; and the error of each whose tables could not be listed
    (it stays as it is, for the caller to fail)."""
    tables: dict[str, list[str]] = {}
    errors: dict[str, Exception] = {}
    for step in steps:
        if step.get("many_tables"):
            try:
                driver = load_driver(step["component"])
                tables[step["id"]] = list(driver.tables(context_of(step)))
            except Exception as exc:
                errors[step["id"]] = exc
    if not tables:
        return steps, tables, errors
    expanded: list[dict[str, Any]] = []
    consumers = {
        s["id"]: s for s in steps if s.get("per_table") and set(s.get("needs", [])) & set(tables)
    }
    for step in steps:
        sid = step["id"]
        if sid in consumers:
            continue  # placed right after its table's extractor, below
        if sid not in tables:
            expanded.append(step)
            continue
        writers = [w for w in consumers.values() if sid in w.get("needs", [])]
        for table in tables[sid]:
            expanded.append(_extractor(step, table))
            expanded += [_writer(w, sid, table) for w in writers]
    return expanded, tables, errors


def _extractor(step: Mapping[str, Any], table: str) -> dict[str, Any]:
    config = {k: v for k, v in step["config"].items() if k not in ("tables", "exclude_tables")}
    out = {k: v for k, v in step.items() if k != "many_tables"}
    if "watermark_from" in out:
        out["watermark_from"] = table_step_id(out["watermark_from"], table)
    return {**out, "id": table_step_id(step["id"], table), "config": {**config, "table": table}}


def _writer(step: Mapping[str, Any], source: str, table: str) -> dict[str, Any]:
    config = dict(step["config"])
    if step["per_table"] == "table":
        config["table"] = str(config.pop("table_prefix", "")) + table
    else:
        config["path"] = str(config["path"]).replace(TABLE_FIELD, table)
    needs = [table_step_id(n, table) if n == source else n for n in step.get("needs", [])]
    out = {k: v for k, v in step.items() if k != "per_table"}
    for key in ("outputs", "appends"):
        if key in out:
            out[key] = [str(p).replace(TABLE_FIELD, table) for p in out[key]]
    return {**out, "id": table_step_id(step["id"], table), "config": config, "needs": needs}
