"""Read-only view of a session directory, tolerant of sessions whose writer was killed."""

from __future__ import annotations

import json
import os
import re
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from osiris.errors import UsageError
from osiris.session.writers import JsonlContent, read_jsonl

__all__ = ["FINAL_STATUSES", "SESSION_ID_RE", "STATUSES", "SessionInfo", "read_session"]

SESSION_ID_RE = re.compile(r"^run_(?P<stamp>\d{8}T\d{6})_[a-z0-9]{6}$")
FINAL_STATUSES = ("succeeded", "failed", "interrupted", "dry_run")
STATUSES = ("running", *FINAL_STATUSES)


@dataclass
class SessionInfo:
    """A session as `osiris logs` sees it.

    `data` is session.json as written (empty if missing or unreadable); `status` is the status
    to show: the recorded one, except that a session still marked "running" whose writer process
    is gone from this host is reported as "interrupted" with `incomplete` set.
    """

    path: Path
    id: str
    data: dict[str, Any]
    status: str
    incomplete: bool = False
    problems: list[str] = field(default_factory=list)

    def events(self) -> JsonlContent:
        return read_jsonl(self.path / "events.jsonl")

    def metrics(self) -> JsonlContent:
        return read_jsonl(self.path / "metrics.jsonl")

    @property
    def pipeline_name(self) -> str:
        pipeline = self.data.get("pipeline")
        return str(pipeline.get("name") or "") if isinstance(pipeline, dict) else ""

    @property
    def executor(self) -> str:
        return str(self.data.get("executor") or "")

    @property
    def started_at(self) -> str:
        value = self.data.get("started_at")
        if isinstance(value, str):
            return value
        match = SESSION_ID_RE.match(self.id)
        if match is None:
            return ""
        when = datetime.strptime(match.group("stamp"), "%Y%m%dT%H%M%S")
        return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    @property
    def duration_ms(self) -> int | None:
        value = self.data.get("duration_ms")
        return value if isinstance(value, int) else None

    @property
    def exit_code(self) -> int | None:
        value = self.data.get("exit_code")
        return value if isinstance(value, int) else None

    def started_epoch(self) -> float | None:
        return parse_timestamp(self.started_at)

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pipeline": self.pipeline_name,
            "status": self.status,
            "incomplete": self.incomplete,
            "exit_code": self.exit_code,
            "executor": self.executor,
            "started_at": self.started_at,
            "duration_ms": self.duration_ms,
            "path": str(self.path),
        }


def parse_timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()
    except ValueError:
        return None


def read_session(path: Path) -> SessionInfo:
    if not path.is_dir():
        raise UsageError(f"{path} is not a session directory")
    info = SessionInfo(path=path, id=path.name, data={}, status="interrupted")
    try:
        data = json.loads((path / "session.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = None
        info.problems.append("session.json is missing: the run stopped before recording a status")
    except (OSError, UnicodeDecodeError, ValueError):
        data = None
        info.problems.append("session.json is unreadable: the run stopped while writing it")
    if not isinstance(data, dict):
        info.incomplete = True
        return info
    info.data = data
    info.id = str(data.get("session_id") or path.name)
    recorded = str(data.get("status") or "")
    info.status = recorded if recorded in STATUSES else "interrupted"
    if recorded not in STATUSES:
        info.incomplete = True
        info.problems.append(f"session.json has an unknown status {recorded!r}")
    if recorded == "running":
        _check_writer(info)
    return info


def _check_writer(info: SessionInfo) -> None:
    host = info.data.get("host")
    if not isinstance(host, dict):
        host = {}
    pid, hostname = host.get("pid"), host.get("hostname")
    if not isinstance(pid, int) or hostname != socket.gethostname():
        where = f"on host {hostname}" if hostname else "by an unknown process"
        info.problems.append(
            f"recorded as running {where}; whether it is still alive cannot be checked from here"
        )
        return
    if not process_alive(pid, info.started_epoch()):
        info.status = "interrupted"
        info.incomplete = True
        info.problems.append(
            f"the run never finished: its process (pid {pid}) is gone, so the session is incomplete"
        )


def process_alive(pid: int, not_before: float | None = None) -> bool:
    """Whether `pid` is a live process that could have started at or before `not_before`."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    # Linux only: a zombie is dead, and a process started after the session is a reused pid.
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        if fields[0] in ("Z", "X"):
            return False
        if not_before is None:
            return True
        boot = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
        started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return True
    # btime has a one-second resolution; allow for it.
    return started <= not_before + 2
