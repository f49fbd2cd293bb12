"""report.html: one self-contained page per session (no network fetches) to look at a run.

The page holds the session's data as JSON and draws it in the browser: the step graph (from the
compiled manifest), a timeline of the steps (start, duration, rows, rows/s), per-step metrics,
the events (filterable by kind and text) and the errors with their hints. Everything comes from
the session's own files, which are masked when written, and is masked once more on the way in.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

from osiris.session.info import parse_timestamp, read_session
from osiris.session.masking import Masker

__all__ = ["REPORT_FILE", "render_report", "report_data", "write_report"]

REPORT_FILE = "report.html"
# a report is for looking at: beyond this many events the page keeps the first and last ones
MAX_EVENTS = 5000

log = logging.getLogger(__name__)


def write_report(session_dir: Path, *, masker: Masker | None = None) -> Path:
    """(Re)write `report.html` in `session_dir` from what the session recorded."""
    data = report_data(session_dir)
    if masker is not None:
        data = masker.mask_obj(data)
    path = session_dir / REPORT_FILE
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_report(data), encoding="utf-8")
    tmp.replace(path)
    return path


def report_data(session_dir: Path) -> dict[str, Any]:
    """What the page shows, as plain JSON-able data."""
    info = read_session(session_dir)
    events = [e for e in info.events().records if isinstance(e, dict)]
    metrics = [m for m in info.metrics().records if isinstance(m, dict)]
    start = info.started_epoch()
    manifest = _manifest(session_dir)
    steps = info.data.get("steps")
    recorded: dict[str, Any] = steps if isinstance(steps, dict) else {}
    timeline = _timeline(events, start, recorded)
    dropped = 0
    if len(events) > MAX_EVENTS:
        dropped = len(events) - MAX_EVENTS
        events = events[: MAX_EVENTS // 2] + events[-MAX_EVENTS // 2 :]
    error = info.data.get("error") if isinstance(info.data.get("error"), dict) else None
    return {
        "session": {
            "id": info.id,
            "pipeline": info.pipeline_name,
            "pipeline_file": (info.data.get("pipeline") or {}).get("file"),
            "status": info.status,
            "incomplete": info.incomplete,
            "exit_code": info.exit_code,
            "executor": info.executor,
            "started_at": info.started_at,
            "duration_ms": info.duration_ms,
            "rows_read": info.data.get("rows_read"),
            "rows_written": info.data.get("rows_written"),
            "fingerprint": info.data.get("fingerprint"),
            "error": error,
            "problems": info.problems,
        },
        "graph": _graph(manifest, recorded, timeline),
        "timeline": timeline,
        "metrics": [
            {
                "offset_ms": _offset(m.get("ts"), start),
                "metric": m.get("metric"),
                "value": m.get("value"),
                "unit": m.get("unit"),
                "tags": m.get("tags") or {},
            }
            for m in metrics
        ],
        "events": [
            {
                "offset_ms": _offset(e.get("ts"), start),
                "event": e.get("event"),
                "step": e.get("step"),
                "detail": {
                    k: v for k, v in e.items() if k not in ("ts", "session", "event", "step")
                },
            }
            for e in events
        ],
        "events_dropped": dropped,
    }


def _manifest(session_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((session_dir / "artifacts" / "manifest.json").read_text("utf-8"))
    except (OSError, ValueError) as exc:
        log.debug("report: no manifest (%s)", exc)
        return {}
    return data if isinstance(data, dict) else {}


def _offset(ts: object, start: float | None) -> int | None:
    at = parse_timestamp(ts) if isinstance(ts, str) else None
    if at is None or start is None:
        return None
    return round((at - start) * 1000)


def _timeline(
    events: list[dict[str, Any]], start: float | None, recorded: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row per step that started, in the order they started (many-table steps per table)."""
    rows: dict[str, dict[str, Any]] = {}
    for e in events:
        sid = e.get("step")
        if not isinstance(sid, str):
            continue
        name = e.get("event")
        if name == "step_start":
            rows[sid] = {
                "step": sid,
                "component": e.get("component"),
                "start_ms": _offset(e.get("ts"), start),
                "end_ms": None,
                "status": "running",
                "rows": None,
                "duration_ms": None,
                "error": None,
            }
        elif name in ("step_complete", "step_failed") and sid in rows:
            row = rows[sid]
            row["end_ms"] = _offset(e.get("ts"), start)
            row["duration_ms"] = e.get("duration_ms")
            if name == "step_complete":
                row.update(status="succeeded", rows=e.get("rows"))
            else:
                row["status"] = "failed"
                row["error"] = {"code": e.get("error_code"), "message": e.get("message")}
        elif name == "step_skipped":
            rows.setdefault(
                sid,
                {"step": sid, "component": None, "start_ms": _offset(e.get("ts"), start)},
            ).update(status="skipped", end_ms=None, rows=None, duration_ms=None, error=None)
    for sid, row in rows.items():
        final = recorded.get(sid)
        status = final.get("status") if isinstance(final, dict) else None
        if row["status"] == "running" and status in ("interrupted", "failed"):
            row["status"] = status
    return list(rows.values())


def _graph(
    manifest: dict[str, Any], recorded: dict[str, Any], timeline: list[dict[str, Any]]
) -> dict[str, Any]:
    """The manifest's steps and their edges; a many-table step notes how many tables it ran."""
    listed = manifest.get("steps")
    steps: list[Any] = listed if isinstance(listed, list) else []
    nodes = []
    for step in steps:
        if not isinstance(step, dict) or not isinstance(step.get("id"), str):
            continue
        sid = step["id"]
        parts = [r for r in timeline if r["step"].startswith(sid + "[")]
        final = recorded.get(sid)
        status = final.get("status") if isinstance(final, dict) else None
        if parts and status in (None, "expanded", "pending"):
            statuses = {r["status"] for r in parts}
            status = next(
                (s for s in ("failed", "interrupted", "running", "skipped") if s in statuses),
                "succeeded",
            )
        nodes.append(
            {
                "id": sid,
                "component": step.get("component"),
                "mode": step.get("mode"),
                "needs": [n for n in step.get("needs") or [] if isinstance(n, str)],
                "status": status or "not run",
                "tables": len(parts),
            }
        )
    return {"nodes": nodes}


def _asset(name: str) -> str:
    """The page's style and script, kept as files of their own next to this module."""
    return (Path(__file__).parent / name).read_text(encoding="utf-8")


def render_report(data: dict[str, Any]) -> str:
    """The page: the data as JSON in the document, drawn by the inline script."""
    session = data["session"]
    title = f"osiris run {session.get('pipeline') or ''} · {session.get('id')}"
    payload = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
    # nothing in the JSON can end the script element or open a comment
    payload = payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (
        _PAGE.replace("__TITLE__", html.escape(title))
        .replace("__STYLE__", _asset("report.css"))
        .replace("__SCRIPT__", _asset("report.js"))
        .replace("__DATA__", payload)
    )


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
  content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<title>__TITLE__</title>
<style>__STYLE__</style>
</head>
<body>
<header id="head"></header>
<main>
<section id="errors" hidden><h2>Errors</h2><div id="error-list"></div></section>
<section><h2>Steps</h2><div id="graph" class="scroll"></div></section>
<section><h2>Timeline</h2><div id="timeline" class="scroll"></div></section>
<section><h2>Metrics</h2><div id="metrics" class="scroll"></div></section>
<section><h2>Events</h2>
<div class="filters">
<label>kind <select id="event-kind"><option value="">all</option></select></label>
<label>contains <input id="event-text" type="search" placeholder="step, text, value"></label>
<span id="event-count"></span>
</div>
<div class="scroll"><table id="events"><thead><tr><th>+time</th><th>event</th><th>step</th>
<th>detail</th></tr></thead><tbody></tbody></table></div>
</section>
</main>
<script id="report-data" type="application/json">__DATA__</script>
<script>__SCRIPT__</script>
</body>
</html>
"""
