"""Steps that read many tables, and the steps that write what they read.

An extractor whose spec names `x-many-tables` (its config key, `tables`) reads one stream per
table when that key is set. Only writers that write per table (`x-per-table`) may consume it:
a database writer (`table`) names each target after its source table (`table_prefix` first),
a file writer (`path`) puts the table's name where its path says `{table}`. The executor
expands such steps per table when the run starts and the tables are known
(osiris.executor.tables).
"""

from __future__ import annotations

from osiris.document import Document, KeyPath
from osiris.pipeline.steps import CompiledStep

TABLE_FIELD = "{table}"


def check_tables(doc: Document, steps: dict[str, CompiledStep]) -> dict[str, str]:
    """Check who consumes many-table steps; returns step id -> "many" for those steps and the
    per-table mode ("table" or "path") of each writer that consumes one."""
    many = {
        sid
        for sid, cs in steps.items()
        if cs.component.spec.many_tables and cs.component.spec.many_tables in cs.config
    }
    roles = dict.fromkeys(many, "many")
    for sid, cs in steps.items():
        if any(n not in steps for n in cs.step.needs):
            continue  # a step it needs has problems of its own, reported already
        base: KeyPath = ("steps", cs.step.index)
        sources = [n for n in cs.step.needs if n in many]
        per_table = cs.component.spec.per_table
        if sources:
            if per_table is None or len(cs.step.needs) > 1:
                doc.add(
                    (*base, "needs"),
                    f"'{sources[0]}' reads several tables; only a writer of its own can take "
                    "them (a database writer, or a file writer whose path has {table})",
                    "give the tables their own writer step, or read one `table`",
                    at_key=True,
                )
                continue
            roles[sid] = per_table
            _check_writer(doc, base, cs, per_table, sources[0])
        elif per_table == "table" and "table" not in cs.config:
            doc.add((*base, "config"), "missing required key 'table'", "add `table:`")
        elif per_table == "path" and TABLE_FIELD in str(cs.config.get("path", "")):
            doc.add(
                (*base, "config", "path"),
                f"{TABLE_FIELD} names a table, but this step's input is one stream",
                "write the file's name, or read several `tables` upstream",
            )
    return roles


def _check_writer(
    doc: Document, base: KeyPath, cs: CompiledStep, per_table: str, source: str
) -> None:
    if per_table == "table" and "table" in cs.config:
        doc.add(
            (*base, "config", "table"),
            f"'{source}' reads several tables; each is written to a table of its own name",
            "remove `table` (`table_prefix` puts a prefix before each name)",
            at_key=True,
        )
    if per_table == "path" and TABLE_FIELD not in str(cs.config.get("path", "")):
        doc.add(
            (*base, "config", "path"),
            f"'{source}' reads several tables; the path must say where each goes",
            "put {table} in the path, e.g. out/{table}.csv",
        )
