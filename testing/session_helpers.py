"""Session test helpers: schema checks over a session directory, hand-made session directories."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from osiris.session import load_schema


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = load_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(name: str, record: Any) -> list[str]:
    """Every way `record` breaks the published schema `name` ("event", "metric", "session")."""
    return sorted(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in _validator(name).iter_errors(record)
    )


_errors = schema_errors  # the name tests/conftest.py imports


def assert_session_valid(path: Path, *, allow_truncated: bool = False) -> None:
    """Fails with every problem found in `path`: session.json, events.jsonl, metrics.jsonl.

    Every line must validate against its schema and carry the directory's session id. A torn
    last line (a writer killed mid-line) is accepted only with `allow_truncated`.
    """
    path = Path(path)
    problems: list[str] = []
    session_id = path.name
    try:
        data = json.loads((path / "session.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        problems.append(f"session.json: {exc}")
    else:
        problems += [f"session.json: {msg}" for msg in schema_errors("session", data)]
        if isinstance(data, dict) and data.get("session_id") != session_id:
            problems.append(f"session.json: session_id is not {session_id!r}")
    for name, schema in (("events.jsonl", "event"), ("metrics.jsonl", "metric")):
        file = path / name
        if not file.exists():
            problems.append(f"{name}: missing")
            continue
        raw = file.read_bytes()
        lines = raw.split(b"\n")
        tail = lines.pop()
        if tail and not allow_truncated:
            problems.append(f"{name}: the last line has no newline (truncated)")
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except ValueError as exc:
                problems.append(f"{name}:{number}: not JSON: {exc}")
                continue
            problems += [f"{name}:{number}: {msg}" for msg in schema_errors(schema, record)]
            if isinstance(record, dict) and record.get("session") != session_id:
                problems.append(f"{name}:{number}: session is not {session_id!r}")
    assert not problems, f"{path} is not a valid session:\n" + "\n".join(problems)


def write_session(logs_dir: Path, session_id: str, **overrides: Any) -> Path:
    """A session directory as `Session` leaves it after a successful run, with chosen values.

    For tests of readers (`osiris logs`, the action) that need fixed ids, times and statuses.
    """
    path = logs_dir / session_id
    (path / "artifacts" / "outputs").mkdir(parents=True)
    data: dict[str, Any] = {
        "session_id": session_id,
        "pipeline": {"name": "orders", "file": "pipeline.yaml"},
        "fingerprint": "sha256:00",
        "executor": "local",
        "status": "succeeded",
        "exit_code": 0,
        "error": None,
        "started_at": "2025-01-02T03:04:05.000Z",
        "ended_at": "2025-01-02T03:04:06.500Z",
        "duration_ms": 1500,
        "steps": {},
        "rows_read": 0,
        "rows_written": 0,
        "versions": {"osiris": "0.1.0", "python": "3.11.7"},
        "host": {"hostname": "ci-runner", "platform": "Linux", "pid": 1},
    }
    data.update(overrides)
    (path / "session.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (path / "events.jsonl").write_text("", encoding="utf-8")
    (path / "metrics.jsonl").write_text("", encoding="utf-8")
    return path


def write_events(path: Path, *events: dict[str, Any], tail: str = "") -> None:
    """Writes events.jsonl of a hand-made session; `tail` is appended as is (a torn line)."""
    lines = [json.dumps({"session": path.name, **e}, separators=(",", ":")) for e in events]
    text = "".join(line + "\n" for line in lines) + tail
    (path / "events.jsonl").write_text(text, encoding="utf-8")
