"""What a component driver sees and returns.

A driver module exposes one function::

    def run(ctx: StepContext) -> pyarrow.RecordBatchReader | None

Extractors and processors return a reader (lazily producing record batches, so memory stays
bounded); writers consume `ctx.inputs` and return None. Failures a user can fix are raised as
`StepError(code, message)` with a stable code (`connection.refused`, `auth.failed`, `sql.error`,
`write.constraint_violation`, `file.not_found`, ...); drivers translate their library's
exceptions into it at the boundary and never put a secret into the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["InputHandle", "StepContext", "StepError"]


class StepError(Exception):
    """A step failure with a stable, documented error code and a one-line message with the fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InputHandle(Protocol):
    """One upstream step's output. `open()` may be called once per consumer."""

    step_id: str

    def open(self) -> pa.RecordBatchReader: ...


@dataclass
class StepContext:
    step_id: str
    component: str
    config: dict[str, Any]
    connection: dict[str, Any] | None
    inputs: dict[str, InputHandle]
    input_root: Path
    output_root: Path
    scratch_dir: Path
    connect_timeout: float = 30.0
    # runner.network.allow: the hosts a step may reach (HTTP components check each request)
    network_allow: tuple[str, ...] = ("*",)
    metric: Callable[..., None] = field(default=lambda *a, **k: None)
    declare_output: Callable[[Path], None] = field(default=lambda p: None)

    def input_path(self, rel: str) -> Path:
        """A file the step reads, relative to the pipeline's directory."""
        return (self.input_root / rel).resolve()

    def output_path(self, rel: str) -> Path:
        """A file the step writes, relative to the run's output area (collected as an output)."""
        path = (self.output_root / rel).resolve()
        if not path.is_relative_to(self.output_root.resolve()):
            raise StepError("config.invalid", f"output path '{rel}' leaves the output area")
        return path

    def single_input(self) -> InputHandle:
        if len(self.inputs) != 1:
            raise StepError(
                "config.invalid",
                f"step '{self.step_id}' needs exactly one upstream step, got {len(self.inputs)}",
            )
        return next(iter(self.inputs.values()))
