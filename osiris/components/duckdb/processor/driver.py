"""SQL over upstream outputs.

Inputs are copied into a DuckDB database file in the step's scratch directory rather than
scanned straight from the Arrow streams: a stream can be read once, while a query may name a
table several times, and a file-backed database lets DuckDB spill when data outgrows memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from osiris.components.api import StepContext, StepError

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _load_inputs(con: duckdb.DuckDBPyConnection, ctx: StepContext) -> None:
    for step_id, handle in ctx.inputs.items():
        reader = handle.open()
        con.register("__osiris_in", reader)
        con.execute(f"CREATE TABLE {_quote(step_id)} AS SELECT * FROM __osiris_in")
        con.unregister("__osiris_in")
    if len(ctx.inputs) == 1 and "input" not in ctx.inputs:
        only = next(iter(ctx.inputs))
        con.execute(f"CREATE VIEW input AS SELECT * FROM {_quote(only)}")


def run(ctx: StepContext) -> pa.RecordBatchReader:
    import duckdb
    import pyarrow as pa

    cfg = ctx.config
    ctx.scratch_dir.mkdir(parents=True, exist_ok=True)
    db_path = ctx.scratch_dir / f"{ctx.step_id}.duckdb"
    settings: dict[str, str | bool | int | float | list[str]] = {
        "temp_directory": str(ctx.scratch_dir / f"{ctx.step_id}.tmp")
    }
    if "memory_limit" in cfg:
        settings["memory_limit"] = cfg["memory_limit"]
    if "threads" in cfg:
        settings["threads"] = str(cfg["threads"])
    try:
        con = duckdb.connect(str(db_path), config=settings)
        _load_inputs(con, ctx)
        relation = con.sql(cfg["query"])
        if relation is None:
            raise StepError("config.invalid", "the query returns no rows; end it with a SELECT")
        result = relation.to_arrow_reader(cfg.get("batch_size", 100_000))
    except duckdb.Error as exc:
        code = "sql.error" if isinstance(exc, duckdb.ParserException) else "sql.failed"
        if isinstance(exc, duckdb.CatalogException):
            code = "table.not_found"
        tables = ", ".join(sorted(ctx.inputs)) or "none"
        first = str(exc).splitlines()[0]
        raise StepError(code, f"{first} (tables available: {tables})") from exc

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from result
        except duckdb.Error as exc:
            raise StepError("sql.failed", str(exc).splitlines()[0]) from exc
        finally:
            con.close()
            db_path.unlink(missing_ok=True)

    return pa.RecordBatchReader.from_batches(result.schema, batches())
