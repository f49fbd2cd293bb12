"""Run a compiled manifest in this process: steps in manifest order, Arrow streams between them.

Progress goes to `emit` as dicts (see progress.py). The first failing step stops the run: steps
not yet started are skipped, streams still open are cancelled.
"""

from __future__ import annotations

import functools
import logging
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.components import load_driver
from osiris.components.api import InputHandle, StepContext
from osiris.executor.errors import classify
from osiris.executor.handles import FileHandle, StreamHandle, Tracker, UpstreamFailedError

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

Emit = Callable[..., None]


@dataclass
class _State:
    emit: Emit
    started: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    trackers: dict[str, Tracker] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)

    def complete(self, step_id: str, rows: int, *, metric: str | None) -> None:
        if self.status.get(step_id) != "running":
            return
        self.status[step_id] = "succeeded"
        ms = round((time.monotonic() - self.started[step_id]) * 1000)
        if metric:
            self.emit("metric", metric=metric, value=rows, unit="rows", tags={"step": step_id})
        self.emit("metric", metric="step_duration_ms", value=ms, unit="ms", tags={"step": step_id})
        self.emit(
            "event",
            event="step_complete",
            step=step_id,
            rows=rows,
            duration_ms=ms,
            outputs=self.outputs.get(step_id, []),
        )

    def fail(self, step_id: str, code: str, message: str) -> None:
        if self.status.get(step_id) != "running":
            return
        self.status[step_id] = "failed"
        ms = round((time.monotonic() - self.started[step_id]) * 1000)
        self.emit(
            "event",
            event="step_failed",
            step=step_id,
            error_code=code,
            message=message,
            duration_ms=ms,
        )


class _CountingHandle:
    def __init__(self, inner: InputHandle, counter: list[int]) -> None:
        self.step_id = inner.step_id
        self._inner = inner
        self._counter = counter

    def open(self) -> pa.RecordBatchReader:
        import pyarrow as pa

        reader = self._inner.open()

        def counted() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                self._counter[0] += batch.num_rows
                yield batch

        return pa.RecordBatchReader.from_batches(reader.schema, counted())


def execute(
    manifest: Mapping[str, Any],
    *,
    environ: Mapping[str, str],
    input_root: Path,
    output_root: Path,
    scratch_dir: Path,
    emit: Emit,
) -> int:
    """Run every step; return 0 when all succeeded, 1 when a step failed."""
    from osiris.pipeline.manifest import resolve_step_config, step_connection

    state = _State(emit)
    steps = manifest["steps"]
    by_id = {s["id"]: s for s in steps}
    consumers: dict[str, int] = {s["id"]: 0 for s in steps}
    for s in steps:
        for need in s.get("needs", []):
            consumers[need] += 1
    handles: dict[str, InputHandle] = {}
    connect_timeout = float(manifest["run"]["network"].get("connect_timeout_seconds", 30))
    failed = False

    # step ids may hold '.', so file names under scratch/ use the step's position instead
    for position, step in enumerate(steps):
        sid = step["id"]
        slot = f"step-{position:03d}"
        if failed:
            state.status[sid] = "skipped"
            emit("event", event="step_skipped", step=sid, reason="an earlier step failed")
            continue
        state.status[sid] = "running"
        state.started[sid] = time.monotonic()
        emit("event", event="step_start", step=sid, component=step["component"])
        consumed = [0]
        try:
            inputs = {n: _CountingHandle(handles[n], consumed) for n in step.get("needs", [])}
            connection = step_connection(manifest, step, environ)
            ctx = StepContext(
                step_id=sid,
                component=step["component"],
                config=resolve_step_config(step, environ),
                connection=connection,
                inputs=dict(inputs),
                input_root=input_root,
                output_root=output_root,
                scratch_dir=scratch_dir / slot,
                connect_timeout=connect_timeout,
                metric=functools.partial(_step_metric, emit, sid),
                declare_output=functools.partial(_declare, state, sid, output_root=output_root),
            )
            driver = load_driver(step["component"])
            reader = driver.run(ctx)
            if reader is None:
                state.complete(sid, consumed[0], metric="rows_written")
                _finish_producers(state, by_id, sid)
            else:
                tracker = Tracker(
                    sid,
                    reader,
                    on_done=functools.partial(_stream_done, state, by_id),
                    on_error=functools.partial(_fail_from_exception, state),
                    on_progress=functools.partial(_progress, emit),
                )
                if consumers[sid] == 1:
                    handles[sid] = StreamHandle(tracker)
                    state.trackers[sid] = tracker
                elif consumers[sid] == 0:
                    tracker.drain()
                else:
                    handles[sid] = FileHandle.write(tracker, scratch_dir / "data" / f"{slot}.arrow")
        except UpstreamFailedError as exc:
            state.fail(sid, "upstream.failed", f"stopped because step '{exc.step_id}' failed")
        except BaseException as exc:
            if any(state.status.get(n) == "failed" for n in step.get("needs", [])):
                # the producer already reported the real cause; this is its echo
                state.fail(sid, "upstream.failed", "stopped because an upstream step failed")
            else:
                _fail_from_exception(state, sid, exc)
            if not isinstance(exc, Exception):
                raise
        if state.status[sid] == "failed":
            failed = True
            for other, t in state.trackers.items():
                if state.status.get(other) != "running":
                    continue
                t.finished = True
                broken = [
                    n for n in by_id[other].get("needs", []) if state.status.get(n) == "failed"
                ]
                if broken:
                    state.fail(
                        other, "upstream.failed", f"stopped because step '{broken[0]}' failed"
                    )
                else:
                    state.fail(other, "cancelled", f"stopped because step '{sid}' failed")

    for sid, t in state.trackers.items():
        if state.status.get(sid) == "running":
            state.complete(sid, t.rows, metric=_read_metric(by_id[sid]))
    return 1 if any(v == "failed" for v in state.status.values()) else 0


def _read_metric(step: Mapping[str, Any]) -> str | None:
    return "rows_read" if step.get("mode") == "extract" else None


def _stream_done(state: _State, by_id: dict[str, Any], sid: str, rows: int) -> None:
    state.complete(sid, rows, metric=_read_metric(by_id[sid]))
    _finish_producers(state, by_id, sid)


def _finish_producers(state: _State, by_id: dict[str, Any], sid: str) -> None:
    # a consumer that is done, even one that stopped reading early, finishes its producers
    for need in by_id[sid].get("needs", []):
        t = state.trackers.get(need)
        if t is not None and state.status.get(need) == "running":
            t.finished = True
            state.complete(need, t.rows, metric=_read_metric(by_id[need]))


def _progress(emit: Emit, sid: str, rows: int) -> None:
    emit("event", event="step_progress", step=sid, rows=rows)


def _step_metric(emit: Emit, sid: str, name: str, value: float, unit: str, **tags: Any) -> None:
    emit("metric", metric=name, value=value, unit=unit, tags={"step": sid, **tags})


def _declare(state: _State, sid: str, path: Path, *, output_root: Path) -> None:
    rel = path.resolve().relative_to(output_root.resolve()).as_posix()
    state.outputs.setdefault(sid, []).append(rel)


def _fail_from_exception(state: _State, sid: str, exc: BaseException) -> None:
    code, message = classify(exc)
    if code == "internal.error":
        log.error("step %s crashed:\n%s", sid, "".join(traceback.format_exception(exc)))
    state.fail(sid, code, message)
