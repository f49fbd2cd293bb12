"""Terminal rendering for `osiris logs`: aligned columns, durations, a session's timeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from osiris.session.info import SessionInfo

__all__ = ["format_duration", "render_session", "session_steps", "status_text", "table"]

_STEP_FINAL = ("succeeded", "failed", "skipped", "interrupted")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = []
    for row in (headers, *rows):
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=True)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return lines


def format_duration(ms: int | float | None) -> str:
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{int(ms)}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def status_text(info: SessionInfo) -> str:
    return f"{info.status} (incomplete)" if info.incomplete else info.status


def format_error(error: Any) -> str:
    if isinstance(error, dict):
        code, message = error.get("code"), str(error.get("message") or "")
        return f"{code}: {message}" if code else message
    return "" if error is None else str(error)


def session_steps(info: SessionInfo, events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Steps from session.json, completed from step events where session.json lags behind."""
    steps: dict[str, dict[str, Any]] = {}
    recorded = info.data.get("steps")
    if isinstance(recorded, dict):
        for step_id, step in recorded.items():
            steps[str(step_id)] = dict(step) if isinstance(step, dict) else {}
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        step_id, name = event.get("step"), event.get("event")
        if not isinstance(step_id, str):
            continue
        state = seen.setdefault(step_id, {})
        if name == "step_start":
            state["status"] = "running"
        elif name == "step_complete":
            state.update(status="succeeded", rows=event.get("rows"))
            state["duration_ms"] = event.get("duration_ms")
        elif name == "step_failed":
            state.update(status="failed", duration_ms=event.get("duration_ms"))
            code = event.get("error_code")
            state["error"] = {"code": code, "message": event.get("message")}
    for step_id, state in seen.items():
        step = steps.setdefault(step_id, {})
        if step.get("status") not in _STEP_FINAL:
            step.update({k: v for k, v in state.items() if v is not None})
    if info.incomplete:
        for step in steps.values():
            if step.get("status") == "running":
                step["status"] = "interrupted"
    return steps


def _value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False) if (" " in value or not value) else value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _event_lines(events: list[dict[str, Any]]) -> list[str]:
    width = max((len(str(e.get("event", ""))) for e in events), default=0)
    lines = []
    for event in events:
        ts = str(event.get("ts", ""))
        clock = ts[11:23] if len(ts) >= 23 else ts
        name = str(event.get("event", ""))
        rest = {k: v for k, v in event.items() if k not in ("ts", "session", "event")}
        # The step names the line best; put it first whatever order the writer used.
        rest = dict(sorted(rest.items(), key=lambda kv: kv[0] != "step"))
        if name in ("run_stdout", "run_stderr") and isinstance(rest.get("line"), str):
            detail = rest.pop("line")
            detail += "".join(f"  {k}={_value(v)}" for k, v in rest.items())
        else:
            detail = " ".join(f"{k}={_value(v)}" for k, v in rest.items())
        lines.append(f"  {clock}  {name.ljust(width)}  {detail}".rstrip())
    return lines


def render_session(info: SessionInfo, *, events: bool) -> list[str]:
    data = info.data
    content = info.events()
    pipeline = data.get("pipeline")
    if not isinstance(pipeline, dict):
        pipeline = {}
    name = str(pipeline.get("name") or "-")
    if pipeline.get("file"):
        name += f" ({pipeline['file']})"
    status = status_text(info)
    if info.exit_code is not None:
        status += f", exit code {info.exit_code}"
    fields = [
        ("session", info.id),
        ("pipeline", name),
        ("status", status),
        ("executor", info.executor or "-"),
        ("started", info.started_at or "-"),
        ("ended", str(data.get("ended_at") or "-")),
        ("duration", format_duration(info.duration_ms)),
    ]
    if content.records and info.incomplete:
        fields.append(("last event", str(content.records[-1].get("ts", "-"))))
    if "rows_read" in data or "rows_written" in data:
        rows = f"read {data.get('rows_read', '-')}, written {data.get('rows_written', '-')}"
        fields.append(("rows", rows))
    error = data.get("error")
    if error:
        text = format_error(error)
        if isinstance(error, dict) and error.get("step_id"):
            text = f"step {error['step_id']}: {text}"
        fields.append(("error", text))
    fields.append(("events", f"{len(content.records)} recorded"))
    fields.append(("path", str(info.path)))
    width = max(len(k) for k, _ in fields)
    lines = [f"{k.ljust(width)}  {v}" for k, v in fields]

    steps = session_steps(info, content.records)
    lines += ["", "steps"]
    if steps:
        rows_ = [
            [
                step_id,
                str(step.get("status") or "-"),
                "-" if step.get("rows") is None else str(step["rows"]),
                format_duration(step.get("duration_ms")),
                format_error(step.get("error")),
            ]
            for step_id, step in steps.items()
        ]
        lines += table(["STEP", "STATUS", "ROWS", "DURATION", "ERROR"], rows_, indent="  ")
    else:
        lines.append("  (no step started)")

    if events:
        lines += ["", "events"]
        lines += _event_lines(content.records) or ["  (none recorded)"]
    notes = info.problems + content.problems
    if notes:
        lines.append("")
        lines += [f"note: {note}" for note in notes]
    return lines
