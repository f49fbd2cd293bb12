"""Call a component driver the way the executor does: a real StepContext and InputHandles."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa

from osiris.components import get_registry
from osiris.components.api import StepContext


class ArrowInput:
    """An InputHandle over record batches, as the executor hands a step its upstream output."""

    def __init__(self, schema: pa.Schema, batches: Iterable[pa.RecordBatch], step_id: str = "up"):
        self.step_id = step_id
        self.schema = schema
        self.batches = batches

    @classmethod
    def of(cls, table: pa.Table, *, batch_rows: int = 1000, step_id: str = "up") -> ArrowInput:
        """A re-readable input over a table (each `open()` starts from the first batch)."""
        return cls(table.schema, table.to_batches(max_chunksize=batch_rows), step_id)

    def open(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.schema, iter(self.batches))


def step_context(
    tmp_path: Path,
    component: str,
    config: dict[str, Any],
    connection: dict[str, Any] | None = None,
    *,
    step_id: str = "step",
    inputs: dict[str, Any] | None = None,
    connect_timeout: float = 10.0,
    metrics: list[tuple[Any, ...]] | None = None,
    outputs: list[Path] | None = None,
) -> StepContext:
    """Inputs are read relative to tmp_path, outputs go to tmp_path/out."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    if connection is not None:
        config = {"connection": f"@{component.partition('.')[0]}.test", **config}

    def metric(name: str, value: Any, unit: str, **tags: Any) -> None:
        if metrics is not None:
            metrics.append((name, value, unit, tags))

    def declare(path: Path) -> None:
        if outputs is not None:
            outputs.append(path)

    return StepContext(
        step_id=step_id,
        component=component,
        config=config,
        connection=connection,
        inputs=inputs or {},
        input_root=tmp_path,
        output_root=tmp_path / "out",
        scratch_dir=scratch,
        connect_timeout=connect_timeout,
        metric=metric,
        declare_output=declare,
    )


def run_step(ctx: StepContext) -> pa.Table | None:
    """Run the component's driver as the executor would (through the registry)."""
    reader = get_registry().require(ctx.component).load_driver().run(ctx)
    return None if reader is None else reader.read_all()
