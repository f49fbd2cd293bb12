from __future__ import annotations

import os
import re
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from osiris.errors import UsageError
from osiris.session.commands import logs_gc
from osiris.session.writers import utc_timestamp
from testing.session_helpers import write_session


def _aged(logs_dir: Path, days: float, tail: str, **overrides) -> str:
    started = datetime.now(UTC) - timedelta(days=days)
    session_id = f"run_{started:%Y%m%dT%H%M%S}_{tail}"
    write_session(logs_dir, session_id, started_at=utc_timestamp(started), **overrides)
    return session_id


@pytest.fixture
def aged(logs_dir: Path) -> list[str]:
    """Four sessions, newest first: 1, 6, 7 and 8 days old, the oldest one bundled."""
    ids = [_aged(logs_dir, days, f"{days:06d}") for days in (1, 6, 7, 8)]
    (logs_dir / f"{ids[3]}.zip").write_bytes(b"zip")
    (logs_dir / "keep-me").mkdir()
    return ids


def _left(logs_dir: Path) -> list[str]:
    return sorted(p.name for p in logs_dir.iterdir())


def test_keep_removes_all_but_the_newest(logs_dir, aged, capsys):
    assert logs_gc(logs_dir, keep=1, older_than_days=None) == 0
    assert _left(logs_dir) == sorted([aged[0], "keep-me"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        f"removed {aged[1]}  (orders, succeeded, 6.0 days old)",
        f"removed {aged[2]}  (orders, succeeded, 7.0 days old)",
        f"removed {aged[3]}  (orders, succeeded, 8.0 days old)",
    ]
    assert re.fullmatch(r"removed 3 sessions \([\d.]+ kB\); 1 kept", lines[3])


def test_older_than_removes_old_sessions(logs_dir, aged):
    logs_gc(logs_dir, keep=None, older_than_days=6.5)
    assert _left(logs_dir) == sorted([aged[0], aged[1], "keep-me"])


def test_keep_and_older_than_together_only_remove_what_both_select(logs_dir, aged):
    logs_gc(logs_dir, keep=3, older_than_days=0.5)
    assert _left(logs_dir) == sorted([*aged[:3], "keep-me"])


def test_dry_run_removes_nothing(logs_dir, aged, capsys):
    before = _left(logs_dir)
    logs_gc(logs_dir, keep=0, older_than_days=None, dry_run=True)
    assert _left(logs_dir) == before
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"would remove {aged[0]}  (orders, succeeded, 1.0 days old)"
    assert re.fullmatch(r"would remove 4 sessions \([\d.]+ kB\); 0 kept", out[-1])


def test_a_live_session_is_never_removed(logs_dir, capsys):
    # Started now: a session older than its writer process would mean a reused pid.
    live = _aged(
        logs_dir,
        0,
        "aaaaaa",
        status="running",
        exit_code=None,
        ended_at=None,
        duration_ms=None,
        host={"hostname": socket.gethostname(), "platform": "Linux", "pid": os.getpid()},
    )
    logs_gc(logs_dir, keep=0, older_than_days=0)
    assert _left(logs_dir) == [live]
    assert capsys.readouterr().out == f"kept {live}: still running\nnothing to remove; 1 kept\n"


def test_gc_needs_a_criterion_and_sane_values(logs_dir):
    with pytest.raises(UsageError, match=r"^logs gc needs --keep N, --older-than DAYS, or both$"):
        logs_gc(logs_dir, keep=None, older_than_days=None)
    with pytest.raises(UsageError, match=r"^--keep must be 0 or more, got -1$"):
        logs_gc(logs_dir, keep=-1, older_than_days=None)
    with pytest.raises(UsageError, match=r"^--older-than must be 0 or more days, got -2$"):
        logs_gc(logs_dir, keep=None, older_than_days=-2)
