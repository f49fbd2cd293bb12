"""Turn the executor's output lines into session events, metrics and step results, live."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from osiris.executor.progress import decode
from osiris.runners.limits import LimitExceededError

if TYPE_CHECKING:
    from osiris.session import Session


OnProgress = Callable[[str, dict[str, Any]], None]


class ProgressRelay:
    def __init__(self, session: Session, on_progress: OnProgress | None = None) -> None:
        self.session = session
        self._on_progress = on_progress
        self.steps: dict[str, dict[str, Any]] = {}
        self.exec_error: dict[str, Any] | None = None
        self.watermarks: dict[str, dict[str, Any]] = {}
        self._stdout = session.stream_writer("stdout")
        self._stderr = session.stream_writer("stderr")
        self._failures: list[dict[str, Any]] = []
        self.lines = 0

    def on_stdout(self, line: str) -> None:
        self.lines += 1
        msg = decode(line)
        if msg is None:
            self._stdout(line)
            self.session.emit("run_stdout", line=line)
            return
        kind = msg.pop("kind")
        if kind == "event":
            self._on_event(msg)
        elif kind == "metric":
            self.session.metric(
                msg["metric"], msg["value"], msg.get("unit", ""), **msg.get("tags", {})
            )
            step = msg.get("tags", {}).get("step")
            if step and msg["metric"] in ("rows_read", "rows_written"):
                self.steps.setdefault(step, {})[msg["metric"]] = msg["value"]
        elif kind == "limit":
            raise LimitExceededError(msg["limit"], msg["message"])
        elif kind == "error":
            self.exec_error = {k: msg[k] for k in ("code", "message", "exit_code") if k in msg}

    def on_stderr(self, line: str) -> None:
        self.lines += 1
        self._stderr(line)
        self.session.emit("run_stderr", line=line)

    def _on_event(self, msg: dict[str, Any]) -> None:
        name = msg.pop("event")
        step = msg.get("step")
        if step:
            info = self.steps.setdefault(step, {})
            if name == "step_progress":
                info["rows"] = msg.get("rows", 0)
            elif name == "step_skipped":
                info.update(status="skipped", reason=msg.get("reason"))
            elif name == "step_expand":  # runs on as one step per table: `<id>[<table>]`
                info.update(status="expanded", tables=msg.get("tables", []))
            elif name == "step_watermark":  # since: auto, what it read from, and what is new
                mark = {k: v for k, v in msg.items() if k != "step"}
                self.watermarks.setdefault(step, {}).update(mark)
                self.session.update(watermarks=self.watermarks)
            elif name == "step_start":
                info.update(status="running", component=msg.get("component"))
            elif name == "step_complete":
                info.update(
                    status="succeeded",
                    rows=msg.get("rows", 0),
                    duration_ms=msg.get("duration_ms"),
                    outputs=msg.get("outputs", []),
                )
            elif name == "step_failed":
                # a step the run's stop cut off was interrupted, not failed
                stopped = msg.get("error_code") == "interrupted"
                info.update(
                    status="interrupted" if stopped else "failed",
                    duration_ms=msg.get("duration_ms"),
                    error={"code": msg.get("error_code"), "message": msg.get("message")},
                )
                self._failures.append(
                    {"code": msg.get("error_code"), "message": msg.get("message"), "step_id": step}
                )
            if name != "step_progress":  # session.json changes only when a step's state does
                self.session.step_update(step, **info)
            if self._on_progress is not None:
                self._on_progress(name, msg)
        self.session.emit(name, **msg)

    def first_failure(self) -> dict[str, Any] | None:
        # the root cause is the first failure that is not an echo of another one
        for f in self._failures:
            if f["code"] not in ("upstream.failed", "cancelled"):
                return f
        return self._failures[0] if self._failures else None

    def rows(self, metric: str) -> int:
        return sum(int(s.get(metric, 0)) for s in self.steps.values())
