"""Run a compiled manifest in this process: the step graph scheduled on threads, Arrow streams
between steps.

A step is ready when every step it needs has handed over its output (a lazy stream, or a file
for several consumers). Up to `run.steps.max_parallel` ready steps run at once, each on a
thread of its own, so independent branches (say, sixteen tables copied side by side over a
slow link) overlap their waiting; with 1 the steps run one after another in manifest order.
A streamed producer does its work on its consumer's thread as the consumer pulls, so memory
stays bounded per branch.

Progress goes to `emit` as dicts (see progress.py), one step's events in their order. When a
step fails, `run.steps.on_failure` decides: `stop` (the default) skips the steps not started
and cancels the streams still flowing; `continue` lets every branch that does not depend on
the failed step finish. Either way the run returns 1.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.components import load_driver
from osiris.components.api import InputHandle, StepContext
from osiris.executor.errors import classify
from osiris.executor.handles import (
    CancelledError,
    FileHandle,
    StreamHandle,
    Tracker,
    UpstreamFailedError,
)

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)

Emit = Callable[..., None]
DEFAULT_PARALLEL = 4


@dataclass
class _State:
    """What the threads share; every change and every emitted line under one lock."""

    emit_line: Emit
    lock: threading.RLock = field(default_factory=threading.RLock)
    cancel: threading.Event = field(default_factory=threading.Event)
    started: dict[str, float] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    trackers: dict[str, Tracker] = field(default_factory=dict)
    outputs: dict[str, list[str]] = field(default_factory=dict)

    def emit(self, kind: str, **fields: Any) -> None:
        with self.lock:
            self.emit_line(kind, **fields)

    def complete(self, step_id: str, rows: int, *, metric: str | None) -> None:
        with self.lock:
            if self.status.get(step_id) != "running":
                return
            self.status[step_id] = "succeeded"
            ms = round((time.monotonic() - self.started[step_id]) * 1000)
            tags = {"step": step_id}
            if metric:
                self.emit("metric", metric=metric, value=rows, unit="rows", tags=tags)
            self.emit("metric", metric="step_duration_ms", value=ms, unit="ms", tags=tags)
            self.emit(
                "event",
                event="step_complete",
                step=step_id,
                rows=rows,
                duration_ms=ms,
                outputs=self.outputs.get(step_id, []),
            )

    def fail(self, step_id: str, code: str, message: str) -> None:
        with self.lock:
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


@dataclass
class _Run:
    """One manifest's execution: the graph, the shared state, the handles handed over."""

    manifest: Mapping[str, Any]
    environ: Mapping[str, str]
    input_root: Path
    output_root: Path
    scratch_dir: Path
    state: _State
    handles: dict[str, InputHandle] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.steps: list[dict[str, Any]] = list(self.manifest["steps"])
        network = self.manifest["run"]["network"]
        self.connect_timeout = float(network.get("connect_timeout_seconds", 30))
        self.network_allow = tuple(network.get("allow") or ("*",))
        self.index()

    def index(self) -> None:
        """(Re)build the lookups over `steps` (after many-table steps were expanded)."""
        self.by_id = {s["id"]: s for s in self.steps}
        self.position = {s["id"]: i for i, s in enumerate(self.steps)}
        self.consumers: dict[str, int] = {s["id"]: 0 for s in self.steps}
        for s in self.steps:
            for need in s.get("needs", []):
                self.consumers[need] += 1
        # writer -> the extractor whose `since: auto` its target answers
        self.watermark_of = {
            s["watermark_from"]: s["id"] for s in self.steps if s.get("watermark_from")
        }

    def context(self, step: Mapping[str, Any], inputs: Mapping[str, InputHandle]) -> StepContext:
        from osiris.pipeline.manifest import resolve_step_config, step_connection

        sid = step["id"]
        return StepContext(
            step_id=sid,
            component=step["component"],
            config=resolve_step_config(step, self.environ),
            connection=step_connection(self.manifest, step, self.environ),
            inputs=dict(inputs),
            input_root=self.input_root,
            output_root=self.output_root,
            # step ids may hold '.', so file names use the step's position instead
            scratch_dir=self.scratch_dir / f"step-{self.position[sid]:03d}",
            connect_timeout=self.connect_timeout,
            network_allow=self.network_allow,
            metric=functools.partial(_step_metric, self.state, sid),
            declare_output=functools.partial(_declare, self.state, sid, self.output_root),
        )

    def run_step(self, step: Mapping[str, Any]) -> None:
        """Start one step on this thread: its driver runs (a writer to the end; an extractor or
        transform until it hands over its stream). Failures are recorded, never raised."""
        state, sid = self.state, step["id"]
        consumed = [0]
        try:
            inputs = {n: _CountingHandle(self.handles[n], consumed) for n in step.get("needs", [])}
            ctx = self.context(step, inputs)
            if step.get("watermark_from"):
                self._since_auto(step, ctx)
            reader = load_driver(step["component"]).run(ctx)
            if reader is None:
                if sid in self.watermark_of:
                    self._new_watermark(self.watermark_of[sid], step)
                state.complete(sid, consumed[0], metric="rows_written")
                self._finish_producers(sid)
            else:
                self._hand_over(sid, reader)
        except UpstreamFailedError as exc:
            state.fail(sid, "upstream.failed", f"stopped because step '{exc.step_id}' failed")
        except CancelledError as exc:
            state.fail(sid, "cancelled", str(exc))
        except BaseException as exc:
            if any(state.status.get(n) == "failed" for n in step.get("needs", [])):
                # the producer already reported the real cause; this is its echo
                state.fail(sid, "upstream.failed", "stopped because an upstream step failed")
            else:
                _fail_from_exception(state, sid, exc)
            if not isinstance(exc, Exception):
                raise

    def _since_auto(self, step: Mapping[str, Any], ctx: StepContext) -> None:
        """`since: auto`: read from the largest cursor value the writer's target holds."""
        from osiris.pipeline.incremental import back_from

        writer = self.by_id[step["watermark_from"]]
        column = ctx.config["cursor_column"]
        found = load_driver(writer["component"]).watermark(self.context(writer, {}), column)
        since = None if found is None else back_from(found, ctx.config.get("lookback"))
        ctx.config.pop("since", None)
        if since is not None:
            ctx.config.update(since=since, since_inclusive=True)
        self.state.emit(
            "event",
            event="step_watermark",
            step=step["id"],
            column=column,
            target=self.context(writer, {}).config.get("table"),
            found=found,
            since=since,
        )

    def _new_watermark(self, source: str, writer: Mapping[str, Any]) -> None:
        column = self.by_id[source]["config"]["cursor_column"]
        value = load_driver(writer["component"]).watermark(self.context(writer, {}), column)
        self.state.emit("event", event="step_watermark", step=source, column=column, new=value)

    def _hand_over(self, sid: str, reader: pa.RecordBatchReader) -> None:
        state = self.state
        tracker = Tracker(
            sid,
            reader,
            on_done=self._stream_done,
            on_error=functools.partial(_fail_from_exception, state),
            on_progress=functools.partial(_progress, state),
            cancelled=state.cancel,
        )
        if self.consumers[sid] == 1:
            with state.lock:
                state.trackers[sid] = tracker
            self.handles[sid] = StreamHandle(tracker)
        elif self.consumers[sid] == 0:
            tracker.drain()
        else:
            path = self.scratch_dir / "data" / f"step-{self.position[sid]:03d}.arrow"
            self.handles[sid] = FileHandle.write(tracker, path)

    def _stream_done(self, sid: str, rows: int) -> None:
        self.state.complete(sid, rows, metric=_read_metric(self.by_id[sid]))
        self._finish_producers(sid)

    def _finish_producers(self, sid: str) -> None:
        # a consumer that is done, even one that stopped reading early, finishes its producers
        state = self.state
        with state.lock:
            for need in self.by_id[sid].get("needs", []):
                t = state.trackers.get(need)
                if t is not None and state.status.get(need) == "running":
                    t.finished = True
                    state.complete(need, t.rows, metric=_read_metric(self.by_id[need]))


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
    policy = manifest["run"].get("steps") or {}
    parallel = max(1, int(policy.get("max_parallel", DEFAULT_PARALLEL)))
    keep_going = policy.get("on_failure", "stop") == "continue"
    state = _State(emit)
    run = _Run(manifest, environ, input_root, output_root, scratch_dir, state)
    unlisted = _expand(run)
    pending = [s["id"] for s in run.steps if s["id"] not in unlisted]
    launched: list[str] = []
    done: set[str] = set()
    finished = threading.Condition(state.lock)

    def work(step: Mapping[str, Any]) -> None:
        try:
            run.run_step(step)
        finally:
            with finished:
                done.add(step["id"])
                finished.notify_all()

    def ready(sid: str) -> bool:
        # every need has handed over its output (its thread is done), or will never do so
        return all(
            n in done or state.status.get(n) in ("failed", "skipped")
            for n in run.by_id[sid].get("needs", [])
        )

    failed_seen: set[str] = set()

    def react_to_failures() -> None:
        for sid in [s for s, st in state.status.items() if st == "failed"]:
            if sid not in failed_seen:
                failed_seen.add(sid)
                _after_failure(run, sid, pending, keep_going)

    try:
        with finished:
            while pending or len(done) < len(launched):
                react_to_failures()
                active = len(launched) - len(done)
                for sid in list(pending):
                    if active >= parallel:
                        break
                    if not ready(sid):
                        continue
                    pending.remove(sid)
                    if _blocked(run, sid):
                        state.status[sid] = "skipped"
                        state.emit(
                            "event",
                            event="step_skipped",
                            step=sid,
                            reason="a step it needs failed",
                        )
                        continue
                    state.status[sid] = "running"
                    state.started[sid] = time.monotonic()
                    state.emit(
                        "event",
                        event="step_start",
                        step=sid,
                        component=run.by_id[sid]["component"],
                    )
                    launched.append(sid)
                    thread = threading.Thread(
                        target=work, args=(run.by_id[sid],), name=f"step-{sid}", daemon=True
                    )
                    thread.start()
                    active += 1
                if pending or len(done) < len(launched):
                    finished.wait(timeout=1.0)
            react_to_failures()
    except BaseException:
        # Ctrl-C or a limit: every stream stops at its next batch; the steps say why
        state.cancel.set()
        for sid in launched:
            state.fail(sid, "interrupted", "interrupted")
        raise
    for sid, t in state.trackers.items():
        if state.status.get(sid) == "running":
            state.complete(sid, t.rows, metric=_read_metric(run.by_id[sid]))
    return 1 if any(v == "failed" for v in state.status.values()) else 0


def _expand(run: _Run) -> set[str]:
    """Expand the many-table steps per table; fail those whose tables cannot be listed and
    return their ids."""
    from osiris.executor.tables import expand

    state = run.state
    run.steps, tables, errors = expand(run.steps, lambda step: run.context(step, {}))
    run.index()
    for sid, names in tables.items():
        state.emit("event", event="step_expand", step=sid, tables=names)
    for sid, exc in errors.items():
        state.status[sid] = "running"
        state.started[sid] = time.monotonic()
        state.emit("event", event="step_start", step=sid, component=run.by_id[sid]["component"])
        _fail_from_exception(state, sid, exc)
    return set(errors)


def _after_failure(run: _Run, sid: str, pending: list[str], keep_going: bool) -> None:
    """A step failed: with on_failure stop, skip what has not started and cancel the rest."""
    state = run.state
    if keep_going:
        return
    for other in list(pending):
        pending.remove(other)
        state.status[other] = "skipped"
        state.emit("event", event="step_skipped", step=other, reason="an earlier step failed")
    state.cancel.set()
    for other, t in state.trackers.items():
        if state.status.get(other) != "running":
            continue
        t.finished = True
        broken = [n for n in run.by_id[other].get("needs", []) if state.status.get(n) == "failed"]
        if broken:
            state.fail(other, "upstream.failed", f"stopped because step '{broken[0]}' failed")
        else:
            state.fail(other, "cancelled", f"stopped because step '{sid}' failed")


def _blocked(run: _Run, sid: str) -> bool:
    """A step that needs a failed (or skipped) step cannot run."""
    return any(
        run.state.status.get(n) in ("failed", "skipped") for n in run.by_id[sid].get("needs", [])
    )


def _read_metric(step: Mapping[str, Any]) -> str | None:
    return "rows_read" if step.get("mode") == "extract" else None


def _progress(state: _State, sid: str, rows: int) -> None:
    state.emit("event", event="step_progress", step=sid, rows=rows)


def _step_metric(state: _State, sid: str, name: str, value: float, unit: str, **tags: Any) -> None:
    state.emit("metric", metric=name, value=value, unit=unit, tags={"step": sid, **tags})


def _declare(state: _State, sid: str, output_root: Path, path: Path) -> None:
    rel = path.resolve().relative_to(output_root.resolve()).as_posix()
    with state.lock:
        state.outputs.setdefault(sid, []).append(rel)


def _fail_from_exception(state: _State, sid: str, exc: BaseException) -> None:
    code, message = classify(exc)
    if code == "internal.error":
        log.error("step %s crashed:\n%s", sid, "".join(traceback.format_exception(exc)))
    state.fail(sid, code, message)
