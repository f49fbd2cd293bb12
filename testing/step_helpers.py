"""Build real StepContexts for driver tests (the driver API, not a mock)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from osiris.components import get_registry
from osiris.components.api import StepContext


class TableHandle:
    """An InputHandle over an in-memory table (or any batches), readable more than once."""

    def __init__(self, step_id: str, table: pa.Table, *, batch_rows: int | None = None) -> None:
        self.step_id = step_id
        self.table = table
        self.batch_rows = batch_rows

    def open(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(
            self.table.schema, self.table.to_batches(max_chunksize=self.batch_rows)
        )


def context(
    tmp_path: Path,
    step_id: str,
    component: str,
    config: dict[str, Any],
    *,
    inputs: dict[str, Any] | None = None,
    connection: dict[str, Any] | None = None,
    metrics: list[tuple[Any, ...]] | None = None,
    outputs: list[Path] | None = None,
) -> StepContext:
    def metric(name, value, unit, **tags):
        if metrics is not None:
            metrics.append((name, value, unit, tags))

    def declare(path):
        if outputs is not None:
            outputs.append(path)

    return StepContext(
        step_id=step_id,
        component=component,
        config=config,
        connection=connection,
        inputs=inputs or {},
        input_root=tmp_path / "in",
        output_root=tmp_path / "out",
        scratch_dir=tmp_path / "scratch" / step_id,
        connect_timeout=5.0,
        metric=metric,
        declare_output=declare,
    )


def run_driver(ctx: StepContext) -> pa.Table | None:
    reader = get_registry().require(ctx.component).load_driver().run(ctx)
    return None if reader is None else reader.read_all()
