"""SQL over upstream outputs.

An input the query scans once is registered as an Arrow stream and scanned directly, so the
upstream step, the query and the downstream step run together. An input scanned more than once
(a stream can be read only once), or when the analysis is unsure, is first copied into a
DuckDB database file in the step's scratch directory. Either way, with `memory_limit` DuckDB
spills sorts, joins and aggregates to the scratch directory, so data larger than memory works.

DuckDB's Arrow output has no field metadata and marks every column nullable. Output columns
that pass an input column through unchanged get that column's metadata and nullability back,
and the input's primary key when the query keeps its rows one to one (see `analysis`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from osiris.components._columns import key_columns, key_metadata
from osiris.components.api import StepContext, StepError
from osiris.components.duckdb.processor import analysis

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def upstream_name(step_id: str) -> str:
    """Upstream Osiris's table name for a step's output: `df_` and the id with every character
    other than a letter, digit or `_` turned into `_` (and `_` before a leading digit)."""
    cleaned = re.sub(r"[^0-9a-zA-Z_]", "_", step_id)
    return "df_" + ("_" + cleaned if cleaned[:1].isdigit() else cleaned)


def _table_names(step_ids: list[str]) -> dict[str, str] | None:
    """Lower-case table name -> step id (DuckDB names are case-insensitive); None for step ids
    differing only in case, which DuckDB could not tell apart.

    Each input is there under its step id and under upstream Osiris's `df_<id>`; a lone input
    also as `input` and `input_df`. A name that is also a step id means that step.
    """
    names = {step.lower(): step for step in step_ids}
    if len(names) != len(step_ids):
        return None
    aliases: dict[str, list[str]] = {}
    for step in step_ids:
        aliases.setdefault(upstream_name(step).lower(), []).append(step)
    for alias, steps in aliases.items():
        for step in steps:
            # as upstream: ids that clean up to the same name get a suffix from their hash
            suffix = "_" + hashlib.sha256(step.encode()).hexdigest()[:8] if len(steps) > 1 else ""
            names.setdefault(alias + suffix, step)
    if len(step_ids) == 1:
        for alias in ("input", "input_df"):
            names.setdefault(alias, step_ids[0])
    return names


def _load_inputs(
    con: duckdb.DuckDBPyConnection,
    readers: dict[str, pa.RecordBatchReader],
    streamed: set[str],
    names: dict[str, str] | None,
) -> None:
    for step_id, reader in readers.items():
        if step_id in streamed:
            con.register(step_id, reader)
            continue
        con.register("__osiris_in", reader)
        con.execute(f"CREATE TABLE {_quote(step_id)} AS SELECT * FROM __osiris_in")
        con.unregister("__osiris_in")
    for alias, step_id in (names or {}).items():
        if alias != step_id.lower():
            con.execute(f"CREATE TEMP VIEW {_quote(alias)} AS SELECT * FROM {_quote(step_id)}")


def _streamable(statements: list[dict] | None, names: dict[str, str] | None) -> set[str]:
    if names is None or statements is None:
        return set()
    counts = analysis.scan_counts(statements, names)
    # an input the query never scans is still read to its end, as upstream steps expect
    return set() if counts is None else {step for step in names.values() if counts[step] == 1}


def _output_schema(
    schema: pa.Schema,
    statements: list[dict] | None,
    inputs: dict[str, pa.Schema],
    names: dict[str, str] | None,
) -> pa.Schema:
    import pyarrow as pa

    found = None
    if statements is not None and names is not None:
        columns = {step: list(s.names) for step, s in inputs.items()}
        found = analysis.lineage(statements, names, columns)
    if found is None or len(found.sources) != len(schema):
        return schema
    fields = []
    passed: dict[tuple[str, str], str] = {}  # (step, input column) -> first output name
    for out_field, source in zip(schema, found.sources, strict=True):
        # get_field_index is -1 for a name an input holds twice
        index = -1 if source is None else inputs[source[0]].get_field_index(source[1])
        in_field = None if source is None or index < 0 else inputs[source[0]].field(index)
        if source is None or in_field is None or in_field.type != out_field.type:
            fields.append(out_field)
            continue
        carried = out_field.with_metadata(in_field.metadata)
        if found.keeps_nulls and not in_field.nullable:
            carried = carried.with_nullable(False)
        fields.append(carried)
        passed.setdefault(source, out_field.name)
    metadata = None
    if found.rows_of is not None and len(set(schema.names)) == len(schema):
        key = key_columns(inputs[found.rows_of])
        if key and all((found.rows_of, column) in passed for column in key):
            renamed = [passed[(found.rows_of, column)] for column in key]
            metadata = key_metadata(renamed)
    return pa.schema(fields, metadata=metadata)


def _guarded(reader: pa.RecordBatchReader, failures: list[Exception]) -> pa.RecordBatchReader:
    """The reader, noting an upstream failure: DuckDB reports it as its own error text, and the
    step re-raises the original so its code and message (or the executor's own signal) survive."""
    import pyarrow as pa

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except Exception as exc:
            failures.append(exc)
            raise

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def warm() -> None:
    """Import what `run` needs (called by a warm-started executor while the CLI compiles)."""
    import duckdb  # noqa: F401


def run(ctx: StepContext) -> pa.RecordBatchReader:
    import duckdb
    import pyarrow as pa

    cfg = ctx.config
    ctx.scratch_dir.mkdir(parents=True, exist_ok=True)
    db_path = ctx.scratch_dir / "processor.duckdb"
    settings: dict[str, str | bool | int | float | list[str]] = {
        "temp_directory": str(ctx.scratch_dir / "spill"),
        # a table name that is no input must not find a Python variable of this module
        "python_enable_replacements": False,
    }
    if "memory_limit" in cfg:
        settings["memory_limit"] = cfg["memory_limit"]
    if "threads" in cfg:
        settings["threads"] = str(cfg["threads"])
    db_path.unlink(missing_ok=True)  # left by a run that was killed
    con = None
    failures: list[Exception] = []
    try:
        con = duckdb.connect(str(db_path), config=settings)
        readers = {sid: _guarded(h.open(), failures) for sid, h in ctx.inputs.items()}
        names = _table_names(list(readers))
        statements = analysis.parse(con, cfg["query"])
        streamed = _streamable(statements, names)
        ctx.metric("inputs_streamed", len(streamed), "count")
        _load_inputs(con, readers, streamed, names)
        relation = con.sql(cfg["query"])
        if relation is None:
            raise StepError("config.invalid", "the query returns no rows; end it with a SELECT")
        result = relation.to_arrow_reader(cfg.get("batch_size", 100_000))
    except BaseException as exc:
        if con is not None:
            con.close()
        db_path.unlink(missing_ok=True)
        if not isinstance(exc, duckdb.Error):
            raise
        if failures:
            raise failures[0] from None
        code = "sql.error" if isinstance(exc, duckdb.ParserException) else "sql.failed"
        if isinstance(exc, duckdb.CatalogException):
            code = "table.not_found"
        known = _table_names(list(ctx.inputs)) or {}
        tables = ", ".join(sorted({*ctx.inputs, *known})) or "none"
        first = str(exc).splitlines()[0]
        raise StepError(code, f"{first} (tables available: {tables})") from exc
    schema = _output_schema(
        result.schema, statements, {step: r.schema for step, r in readers.items()}, names
    )
    not_null = [i for i, f in enumerate(schema) if not f.nullable]

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            for batch in result:
                for i in not_null:
                    if batch.column(i).null_count:
                        raise StepError(
                            "sql.failed",
                            f"column '{schema.field(i).name}' of the result holds NULL though "
                            "its input column is NOT NULL; wrap it in an expression "
                            "(e.g. coalesce) to produce a nullable column",
                        )
                yield pa.RecordBatch.from_arrays(batch.columns, schema=schema)
        except (duckdb.Error, pa.ArrowException, OSError) as exc:
            # errors while streaming come through pyarrow's reader, not as duckdb.Error
            if failures:
                raise failures[0] from None
            raise StepError("sql.failed", str(exc).splitlines()[0]) from exc
        finally:
            con.close()
            db_path.unlink(missing_ok=True)

    return pa.RecordBatchReader.from_batches(schema, batches())
