"""The runner contract.

A runner takes a `PreparedRun` (compiled manifest, the directory its input files are relative
to, the values of exactly the environment variables the manifest names) and a `Session`, runs
the executor somewhere isolated, and returns a `RunResult`. `Runner.run` drives the phases and
writes the lifecycle events, in this order:

    run_prepare_env → run_submit → run_stdout / run_stderr (per line, live) and the executor's
    step_* events → run_complete | run_failed → run_cleanup   (always last, whatever happened)

A backend implements the phases (`_prepare`, `_execute`, `_stop`, `_collect`, `_cleanup`); it
never writes events itself except through the relay it is given. Errors that may escape
`run`: none for step failures (a result, exit 1); `RunnerError` only when the session could not be
finalised. Infrastructure failures and limits become `run_failed` with exit 4, Ctrl-C/SIGTERM
becomes `run_failed` with reason `interrupted` and exit 130.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from osiris.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_RUNNER,
    EXIT_STEP_FAILED,
    ConnectionsError,
    RunnerError,
    UsageError,
)
from osiris.network import is_allowed
from osiris.runners.limits import LimitExceededError
from osiris.runners.relay import OnProgress, ProgressRelay

if TYPE_CHECKING:
    from osiris.config import OsirisConfig
    from osiris.pipeline import Manifest
    from osiris.session import Session

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedRun:
    """What a runner runs. `output_dir` is where the files the steps write land (the working
    directory, as in upstream Osiris); None keeps them in the session only."""

    manifest: Manifest
    input_root: Path
    env: dict[str, str] = field(repr=False)
    dry_run: bool = False
    output_dir: Path | None = None

    @property
    def limits(self) -> dict[str, Any]:
        return dict(self.manifest.data["run"]["limits"])

    def input_files(self) -> list[str]:
        return sorted({p for s in self.manifest.data["steps"] for p in s.get("inputs", [])})

    def seed_files(self) -> list[str]:
        """Outputs that continue a file already at their path (an appending step's): a runner
        puts each into the run's output area before the run."""
        if self.output_dir is None:
            return []
        paths = {p for s in self.manifest.data["steps"] for p in s.get("appends", [])}
        return sorted(p for p in paths if (self.output_dir / p).is_file())


@dataclass
class RunResult:
    status: str  # succeeded | failed | interrupted | dry_run
    exit_code: int
    duration_ms: int
    error: dict[str, Any] | None = None
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)  # relative to session.outputs
    output_dir: str | None = None  # where the outputs were also placed
    # set by osiris.api.run, which opened the session
    session_id: str | None = None
    session_dir: Path | None = None
    bundle: Path | None = None  # the session's zip, when a failed run was bundled

    @property
    def rows_read(self) -> int:
        return sum(int(s.get("rows_read", 0)) for s in self.steps.values())

    @property
    def rows_written(self) -> int:
        return sum(int(s.get("rows_written", 0)) for s in self.steps.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "steps": self.steps,
            "rows_read": self.rows_read,
            "rows_written": self.rows_written,
            "outputs": self.outputs,
            "output_dir": self.output_dir,
        }  # the session fields are the caller's to add (osiris run --json names them)


class Runner(ABC):
    name: str = ""
    _interrupted = False

    def interrupt(self) -> None:
        """Stop the run from another thread (its executor, or its sandbox); the run then ends
        as interrupted. Safe to call at any time, also before or after the run."""
        self._interrupted = True
        self._stop()

    @classmethod
    def from_config(cls, config: OsirisConfig) -> Runner:
        """Build the runner from the effective configuration (`osiris.yaml`, env, flags)."""
        return cls()

    def run(
        self, prepared: PreparedRun, session: Session, *, on_progress: OnProgress | None = None
    ) -> RunResult:
        """Run `prepared` and record everything in `session`; see the module docstring.

        `on_progress(event, fields)` is called for each step event as it arrives (console output).
        """
        t0 = time.monotonic()
        relay = ProgressRelay(session, on_progress)
        error: dict[str, Any] | None = None
        status, exit_code = "failed", EXIT_RUNNER
        try:
            try:
                session.emit("run_prepare_env", executor=self.name, dry_run=prepared.dry_run)
                check_prepared(prepared)
                self._prepare(prepared, session)
                if prepared.dry_run:
                    status, exit_code = "dry_run", EXIT_OK
                    session.emit("run_complete", status="dry_run", exit_code=EXIT_OK)
                    return RunResult(status, exit_code, _ms_since(t0), None, relay.steps, [])
                session.emit("run_submit", executor=self.name)
                if self._interrupted:
                    raise KeyboardInterrupt
                child_code = self._execute(prepared, session, relay)
                if self._interrupted:
                    raise KeyboardInterrupt
                status, exit_code, error = _outcome(child_code, relay)
            except LimitExceededError as exc:
                self._stop()
                error = {"code": f"limit.{exc.limit}", "message": exc.message, "limit": exc.limit}
            except KeyboardInterrupt:
                self._stop()
                status, exit_code = "interrupted", EXIT_INTERRUPTED
                error = {"code": "interrupted", "message": "the run was interrupted"}
            except RunnerError as exc:
                self._stop()
                if self._interrupted:  # the sandbox went away because we stopped it
                    status, exit_code = "interrupted", EXIT_INTERRUPTED
                    error = {"code": "interrupted", "message": "the run was interrupted"}
                else:
                    error = {"code": "runner.error", "message": exc.message}
                    if exc.hint:
                        error["hint"] = exc.hint
            except (ConnectionsError, UsageError) as exc:
                exit_code = exc.exit_code
                error = {"code": "config.invalid", "message": exc.message, "hint": exc.hint}
            outputs = self._collect_safely(session)
            placed = _place_outputs(session, outputs, prepared.output_dir)
            if status == "succeeded":
                session.emit(
                    "run_complete",
                    status=status,
                    exit_code=exit_code,
                    rows_read=relay.rows("rows_read"),
                    rows_written=relay.rows("rows_written"),
                )
            else:
                session.emit(
                    "run_failed",
                    status=status,
                    exit_code=exit_code,
                    reason=(error or {}).get("code", "failed"),
                    message=(error or {}).get("message", ""),
                )
            return RunResult(status, exit_code, _ms_since(t0), error, relay.steps, outputs, placed)
        finally:
            info = self._cleanup_safely()
            session.metric(
                "run_duration_ms", round((time.monotonic() - t0) * 1000), "ms", executor=self.name
            )
            session.emit("run_cleanup", executor=self.name, **info)

    def _collect_safely(self, session: Session) -> list[str]:
        try:
            return self._collect(session)
        except (OSError, RunnerError) as exc:
            log.error("collecting outputs failed: %s", exc)
            session.emit("run_stderr", line=f"collecting outputs failed: {exc}")
            return []

    def _cleanup_safely(self) -> dict[str, Any]:
        try:
            return self._cleanup()
        except Exception as exc:  # cleanup must never hide the run's outcome
            log.error("cleanup failed: %s", exc, exc_info=True)
            return {"cleanup_error": str(exc)}

    # -- backend hooks -------------------------------------------------------------------
    @abstractmethod
    def _prepare(self, prepared: PreparedRun, session: Session) -> None:
        """Create the isolated place and check everything a run needs; submit nothing."""

    @abstractmethod
    def _execute(self, prepared: PreparedRun, session: Session, relay: ProgressRelay) -> int:
        """Start the executor, feed its output lines to `relay` live, enforce limits; exit code."""

    @abstractmethod
    def _stop(self) -> None:
        """Stop the executor if it is still running (idempotent)."""

    @abstractmethod
    def _collect(self, session: Session) -> list[str]:
        """Bring output files into `session.outputs`; return their relative paths."""

    @abstractmethod
    def _cleanup(self) -> dict[str, Any]:
        """Tear the place down; return fields for the run_cleanup event."""

    def close(self) -> None:
        self._stop()

    def __enter__(self) -> Runner:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _place_outputs(session: Session, outputs: list[str], output_dir: Path | None) -> str | None:
    """Put each collected output at its path under `output_dir` too (a hard link to the
    session's copy where the file system allows, else a copy), replacing what was there."""
    if output_dir is None or not outputs:
        return None
    for rel in outputs:
        source = session.outputs / rel
        target = output_dir / rel
        tmp = target.with_name(f".{target.name}.{os.getpid()}.osiris-tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(source, tmp)
            except OSError:
                shutil.copyfile(source, tmp)
            os.replace(tmp, target)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.error("could not place output %s: %s", target, exc)
            session.emit("run_stderr", line=f"could not place output {target}: {exc}")
    session.emit("run_outputs", output_dir=str(output_dir), outputs=outputs)
    return str(output_dir)


def _ms_since(t0: float) -> int:
    return round((time.monotonic() - t0) * 1000)


def _outcome(child_code: int, relay: ProgressRelay) -> tuple[str, int, dict[str, Any] | None]:
    failed = relay.first_failure()
    if child_code == EXIT_OK and failed is None:
        return "succeeded", EXIT_OK, None
    if failed is not None:
        return "failed", EXIT_STEP_FAILED, failed
    if relay.exec_error is not None:
        return "failed", int(relay.exec_error.get("exit_code", EXIT_RUNNER)), relay.exec_error
    return (
        "failed",
        EXIT_RUNNER,
        {
            "code": "runner.executor_crashed",
            "message": f"the executor exited with code {child_code}; see artifacts/stderr.txt",
        },
    )


def check_prepared(prepared: PreparedRun) -> None:
    """What every runner proves before submitting: env present, connection hosts allowed."""
    from osiris.components.families import endpoints
    from osiris.pipeline.manifest import step_connection

    data = prepared.manifest.data
    missing = [n for n in data["env"]["required"] if n not in prepared.env]
    if missing:
        raise ConnectionsError(
            f"environment variable{'s' if len(missing) > 1 else ''} not set: {', '.join(missing)}",
            hint="export them before running (values are passed to the run, never written)",
        )
    allow = data["run"]["network"]["allow"]
    for step in data["steps"]:
        ref = step.get("connection")
        connection = step_connection(data, step, prepared.env)
        if connection is None:
            continue
        for host, port in endpoints(data["connections"][ref]["family"], connection):
            if not is_allowed(allow, host, port):
                where = f"{host}:{port}" if port else host
                raise ConnectionsError(
                    f"connection {ref} (step '{step['id']}') goes to {where}, which the network "
                    "allow-list does not allow",
                    hint=f"add '{where}' to runner.network.allow in osiris.yaml "
                    "(or OSIRIS_RUNNER__NETWORK__ALLOW)",
                )
