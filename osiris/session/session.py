"""One run's session directory: session.json, events, metrics, log and artifacts.

Layout (docs/sessions.md has the reference)::

    <logs_dir>/<session_id>/
        session.json      status and summary; rewritten atomically on every change
        events.jsonl      one event per line, filtered by `logging.events`
        metrics.jsonl     one metric per line
        osiris.log        the `osiris` logger at DEBUG while `Session.logging()` is active
        artifacts/        pipeline.yaml, manifest.json, stdout.txt, stderr.txt, outputs/

Everything written here passes through the session's `Masker` first.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from logging import getLogger
from pathlib import Path, PurePosixPath
from types import TracebackType
from typing import Any, Literal

from osiris import __version__
from osiris.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, OsirisError
from osiris.session.info import FINAL_STATUSES, SessionInfo, read_session
from osiris.session.masking import Masker
from osiris.session.writers import (
    EventFilter,
    JsonlWriter,
    MaskingLineWriter,
    log_to,
    utc_timestamp,
)

__all__ = ["Session"]

logger = getLogger(__name__)

_NAME_RE = re.compile(r"^[a-z][a-z0-9_.]*$")
_TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _valid_ts(ts: object) -> bool:
    return isinstance(ts, str) and _TS_RE.match(ts) is not None


def _new_id() -> str:
    return f"run_{datetime.now(UTC):%Y%m%dT%H%M%S}_{secrets.token_hex(3)}"


class Session:
    """A live session directory. Create it with `Session.create`; read one with `Session.open`.

    Writes are thread-safe (runners emit from their output-reader threads). After `close()`
    further events, metrics and stream lines are dropped rather than raising, so a late reader
    thread cannot crash a run that is already over.
    """

    def __init__(self, path: Path, masker: Masker, event_filter: EventFilter) -> None:
        self.id = path.name
        self.path = path
        self.artifacts = path / "artifacts"
        self.outputs = self.artifacts / "outputs"
        self.masker = masker
        self.event_filter = event_filter
        self._lock = threading.RLock()
        self._data: dict[str, Any] = {}
        self._started = time.monotonic()
        self._finalized = False
        self._closed = False
        self.outputs.mkdir(parents=True, exist_ok=True)
        self._events = JsonlWriter(path / "events.jsonl", masker)
        self._metrics = JsonlWriter(path / "metrics.jsonl", masker)
        self._streams: dict[str, MaskingLineWriter] = {}

    @classmethod
    def create(
        cls,
        logs_dir: Path,
        *,
        pipeline_name: str,
        pipeline_file: str,
        executor: str,
        events: Sequence[str] = ("*",),
        masker: Masker | None = None,
    ) -> Session:
        """Creates `<logs_dir>/<new id>/` and writes session.json with status "running"."""
        logs_dir.mkdir(parents=True, exist_ok=True)
        while True:
            path = logs_dir / _new_id()
            try:
                path.mkdir()
                break
            except FileExistsError:
                continue
        session = cls(path, masker or Masker(), EventFilter(events))
        session._data = {
            "session_id": session.id,
            "pipeline": {"name": pipeline_name, "file": pipeline_file},
            "fingerprint": None,
            "executor": executor,
            "status": "running",
            "exit_code": None,
            "error": None,
            "started_at": utc_timestamp(),
            "ended_at": None,
            "duration_ms": None,
            "steps": {},
            "rows_read": 0,
            "rows_written": 0,
            "versions": {"osiris": __version__, "python": platform.python_version()},
            # Host-dependent fields last; pid + hostname let `osiris logs` spot a dead writer.
            "host": {
                "hostname": socket.gethostname(),
                "platform": platform.platform(),
                "pid": os.getpid(),
            },
        }
        session._write_state()
        return session

    @classmethod
    def open(cls, path: Path) -> SessionInfo:
        """A read-only view of an existing session directory (see `SessionInfo`)."""
        return read_session(path)

    @property
    def data(self) -> dict[str, Any]:
        """A copy of what session.json holds (unmasked)."""
        with self._lock:
            return json.loads(json.dumps(self._data, default=str))

    @property
    def finalized(self) -> bool:
        return self._finalized

    def emit(self, event: str, **fields: Any) -> None:
        """Appends an event line unless `logging.events` filters it out.

        A `ts` field in the events' format replaces the current time (for events relayed from
        the executor); a `session` field is ignored.
        """
        if not _NAME_RE.match(event):
            raise ValueError(f"invalid event name {event!r}")
        if not self.event_filter.admits(event):
            return
        ts = fields.pop("ts", None)
        fields.pop("session", None)
        record = {"ts": ts if _valid_ts(ts) else utc_timestamp(), "session": self.id}
        record["event"] = event
        record.update(fields)
        self._events.write(record)

    def metric(self, name: str, value: float | int, unit: str, **tags: Any) -> None:
        """Appends a metric line. A `ts` tag in the events' format replaces the current time."""
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"metric {name}: value must be a number, got {value!r}")
        if not math.isfinite(value):
            logger.warning("metric %s dropped: value %r is not a finite number", name, value)
            return
        ts = tags.pop("ts", None)
        self._metrics.write(
            {
                "ts": ts if _valid_ts(ts) else utc_timestamp(),
                "session": self.id,
                "metric": name,
                "value": value,
                "unit": unit,
                "tags": tags,
            }
        )

    def write_artifact(self, rel: str, data: str | bytes) -> Path:
        """Writes `artifacts/<rel>` (masked when `data` is text) and returns its path."""
        parts = PurePosixPath(rel).parts
        if not parts or PurePosixPath(rel).is_absolute() or ".." in parts or "\\" in rel:
            raise ValueError(f"artifact path {rel!r} must be relative and stay in artifacts/")
        path = self.artifacts.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = self.masker.mask(data).encode("utf-8") if isinstance(data, str) else data
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(payload)
        os.replace(tmp, path)
        return path

    def stream_writer(self, name: Literal["stdout", "stderr"]) -> Callable[[str], None]:
        """A function appending one masked line to artifacts/<name>.txt per call."""
        if name not in ("stdout", "stderr"):
            raise ValueError(f"unknown stream {name!r}")
        with self._lock:
            writer = self._streams.get(name)
            if writer is None:
                writer = MaskingLineWriter(self.artifacts / f"{name}.txt", self.masker)
                self._streams[name] = writer
                if self._closed:
                    writer.close()
            return writer

    def update(self, **fields: Any) -> None:
        """Merges fields into session.json (dict values one level deep) and rewrites it."""
        fields.pop("session_id", None)
        with self._lock:
            for key, value in fields.items():
                current = self._data.get(key)
                if isinstance(current, dict) and isinstance(value, dict):
                    current.update(value)
                else:
                    self._data[key] = value
            self._write_state()

    def step_update(self, step_id: str, **fields: Any) -> None:
        """Merges fields into `steps[step_id]` ({status, rows, duration_ms, error})."""
        with self._lock:
            steps = self._data.setdefault("steps", {})
            step = steps.setdefault(
                step_id, {"status": "pending", "rows": None, "duration_ms": None, "error": None}
            )
            step.update(fields)
            self._write_state()

    def finalize(self, status: str, exit_code: int, error: dict[str, Any] | None = None) -> None:
        """Records the final status; only the first call counts."""
        if status not in FINAL_STATUSES:
            raise ValueError(f"final status must be one of {', '.join(FINAL_STATUSES)}")
        with self._lock:
            if self._finalized:
                return
            self._finalized = True
            self._data.update(
                status=status,
                exit_code=exit_code,
                error=error,
                ended_at=utc_timestamp(),
                duration_ms=int((time.monotonic() - self._started) * 1000),
            )
            if status != "succeeded":
                # A step still marked running was cut off by whatever ended the run.
                for step in self._data.get("steps", {}).values():
                    if isinstance(step, dict) and step.get("status") == "running":
                        step["status"] = "interrupted"
            self._write_state()
            self._write_report()

    def logging(self, *, console_level: int | None = None) -> AbstractContextManager[None]:
        """Sends the `osiris` logger to osiris.log at DEBUG (and to stderr at `console_level`)."""
        return log_to(self.path / "osiris.log", self.masker, console_level=console_level)

    def close(self) -> None:
        """Closes the writers; a session never finalized is recorded as an internal failure."""
        with self._lock:
            if self._closed:
                return
            if not self._finalized:
                self.finalize(
                    "failed",
                    EXIT_INTERNAL,
                    {"code": "internal", "message": "the run ended without a final status"},
                )
            self._closed = True
            self._events.close()
            self._metrics.close()
            for writer in self._streams.values():
                writer.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and not self._finalized:
            if isinstance(exc, KeyboardInterrupt):
                self.finalize("interrupted", EXIT_INTERRUPTED, {"message": "interrupted"})
            elif isinstance(exc, OsirisError):
                self.finalize("failed", exc.exit_code, {"message": exc.message})
            else:
                message = f"unexpected error: {type(exc).__name__}: {exc}"
                self.finalize("failed", EXIT_INTERNAL, {"code": "internal", "message": message})
        self.close()

    def _write_report(self) -> None:
        """report.html, for looking at the run; a report that cannot be written fails nothing."""
        from osiris.session.report import write_report

        try:
            write_report(self.path, masker=self.masker)
        except Exception as exc:  # the run's own result matters more than its picture
            logger.warning("could not write report.html: %s: %s", type(exc).__name__, exc)

    def _write_state(self) -> None:
        text = json.dumps(self.masker.mask_obj(self._data), ensure_ascii=False, indent=2)
        tmp = self.path / "session.json.tmp"
        tmp.write_text(text + "\n", encoding="utf-8")
        # os.replace is atomic: a reader or a kill sees the old file or the new one, never half.
        os.replace(tmp, self.path / "session.json")
