"""What one action invocation did, as data: the source of outputs, job summary and summary-json."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from osiris.errors import EXIT_OK, Problem
from osiris.session import Masker

if TYPE_CHECKING:
    from osiris.action.plandiff import PlanDiff

__all__ = ["ArtifactResult", "PipelineResult", "Report", "StepRow"]

# Statuses that mean "this pipeline needs attention"; the first one found is the overall status.
_OK_STATUSES = ("succeeded", "dry_run", "valid", "compiled", "unchanged", "changed", "listed")


@dataclass(frozen=True)
class StepRow:
    id: str
    component: str
    status: str
    mode: str = ""
    rows: int | None = None
    duration_ms: int | None = None
    error: str | None = None


@dataclass
class PipelineResult:
    """One pipeline file. `file`, `session_dir` and `bundle` are relative to the workspace."""

    file: str
    status: str
    exit_code: int
    name: str = ""
    session_id: str | None = None
    session_dir: str | None = None
    bundle: str | None = None
    duration_ms: int | None = None
    rows_read: int | None = None
    rows_written: int | None = None
    steps: list[StepRow] = field(default_factory=list)
    error: str | None = None
    problems: list[Problem] = field(default_factory=list)
    fingerprint: str | None = None
    plan: PlanDiff | None = None
    notes: list[str] = field(default_factory=list)
    base_label: str = ""  # plan-diff: what the plan was compared with

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "name": self.name,
            "status": self.status,
            "exit_code": self.exit_code,
            "session_id": self.session_id,
            "session_dir": self.session_dir,
            "bundle": self.bundle,
            "duration_ms": self.duration_ms,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "steps": [vars(s) for s in self.steps],
            "error": self.error,
            "problems": [p.to_dict() for p in self.problems],
            "fingerprint": self.fingerprint,
            "plan_changed": None if self.plan is None else self.plan.changed,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class ArtifactResult:
    """`status` is uploaded, skipped or failed; `reason` says why for the last two."""

    status: str
    reason: str = ""
    name: str = ""
    artifact_id: int | None = None
    url: str | None = None
    size: int | None = None
    digest: str | None = None


@dataclass
class Report:
    command: str
    executor: str | None = None
    pipelines: list[PipelineResult] = field(default_factory=list)
    artifact: ArtifactResult | None = None
    error: str | None = None  # an error that stopped the action itself
    error_code: int = EXIT_OK
    masker: Masker = field(default_factory=Masker)
    listed: list[str] | None = None  # `list`: the paths it gives, relative to working-directory

    @property
    def exit_code(self) -> int:
        """The CLI's code: the first non-zero one, 0 when every pipeline went fine."""
        if self.error_code:
            return self.error_code
        return next((p.exit_code for p in self.pipelines if p.exit_code), EXIT_OK)

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        for pipeline in self.pipelines:
            if pipeline.exit_code or pipeline.status not in _OK_STATUSES:
                return pipeline.status
        if any(p.status == "changed" for p in self.pipelines):
            return "changed"
        if self.command == "list":
            return "listed"
        return self.pipelines[0].status if self.pipelines else "error"

    @property
    def rows_written(self) -> int | None:
        known = [p.rows_written for p in self.pipelines if p.rows_written is not None]
        return sum(known) if known else None

    def to_dict(self) -> dict[str, Any]:
        """The summary-json output, masked."""
        artifact = None if self.artifact is None else dict(vars(self.artifact))
        return self.masker.mask_obj(
            {
                "command": self.command,
                "status": self.status,
                "exit_code": self.exit_code,
                "executor": self.executor,
                "error": self.error,
                "rows_written": self.rows_written,
                "pipelines": [p.to_dict() for p in self.pipelines],
                "artifact": artifact,
            }
        )
