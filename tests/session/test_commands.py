from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from osiris.errors import UsageError
from osiris.session.commands import logs_list, logs_show, resolve_session
from testing.session_helpers import write_events, write_session

A = "run_20250102T030405_aaaaaa"
B = "run_20250103T000000_bbbbbb"
C = "run_20250101T000000_cccccc"


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout)


@pytest.fixture
def three(logs_dir: Path) -> Path:
    write_session(logs_dir, A)
    write_session(
        logs_dir,
        B,
        pipeline={"name": "customers", "file": "customers.yaml"},
        executor="e2b",
        status="failed",
        exit_code=1,
        started_at="2025-01-03T00:00:00.000Z",
        duration_ms=65000,
    )
    (logs_dir / C).mkdir()  # killed before session.json was written
    (logs_dir / "notes").mkdir()
    (logs_dir / f"{A}.zip").write_bytes(b"")
    return logs_dir


def test_list_is_newest_first_with_aligned_columns(three, capsys):
    assert logs_list(three, as_json=False) == 0
    assert capsys.readouterr().out.splitlines() == [
        "SESSION                     PIPELINE   STATUS                    DURATION  EXECUTOR",
        f"{B}  customers  failed                    1m05s     e2b",
        f"{A}  orders     succeeded                 1.5s      local",
        f"{C}  -          interrupted (incomplete)  -         -",
    ]


def test_list_reports_running_sessions_by_whether_their_writer_lives(logs_dir, capsys):
    here = socket.gethostname()
    write_session(
        logs_dir, A, status="running", exit_code=None, ended_at=None, duration_ms=None,
        host={"hostname": here, "platform": "Linux", "pid": _dead_pid()},
    )  # fmt: skip
    write_session(
        logs_dir, B, status="running", exit_code=None, ended_at=None, duration_ms=None,
        started_at="2025-01-03T00:00:00.000Z",
        host={"hostname": "elsewhere", "platform": "Linux", "pid": 1},
    )  # fmt: skip
    assert logs_list(logs_dir, as_json=True) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(s["id"], s["status"], s["incomplete"]) for s in listed] == [
        (B, "running", False),
        (A, "interrupted", True),
    ]
    assert listed[1] == {
        "id": A,
        "pipeline": "orders",
        "status": "interrupted",
        "incomplete": True,
        "exit_code": None,
        "executor": "local",
        "started_at": "2025-01-02T03:04:05.000Z",
        "duration_ms": None,
        "path": str(logs_dir / A),
    }


def test_list_without_sessions(tmp_path, capsys):
    assert logs_list(tmp_path / "missing", as_json=False) == 0
    assert logs_list(tmp_path / "missing", as_json=True) == 0
    assert capsys.readouterr().out == f"no sessions in {tmp_path / 'missing'}\n[]\n"


def test_resolve_by_id_prefix_last_and_path(three, tmp_path, monkeypatch):
    assert resolve_session(three, A) == three / A
    assert resolve_session(three, "run_20250103") == three / B
    assert resolve_session(three, "last") == three / B
    assert resolve_session(three, str(three / C)) == three / C
    monkeypatch.chdir(three)
    assert resolve_session(Path("elsewhere"), f"./{A}") == Path(f"./{A}")


def test_resolve_errors_say_what_to_do(three, tmp_path):
    with pytest.raises(UsageError) as excinfo:
        resolve_session(three, "run_2025")
    assert excinfo.value.format() == (
        f"'run_2025' matches 3 sessions: {C}, {A}, {B}\n"
        "  hint: give more characters of the session id"
    )
    with pytest.raises(UsageError) as excinfo:
        resolve_session(three, "run_1999")
    assert excinfo.value.format() == (
        f"no session 'run_1999' in {three}\n  hint: run `osiris logs list` to see the sessions"
    )
    with pytest.raises(UsageError, match=f"^no sessions in {tmp_path}$"):
        resolve_session(tmp_path, "last")
    with pytest.raises(UsageError, match=r"^nowhere/x is not a session directory$"):
        resolve_session(three, "nowhere/x")


@pytest.fixture
def failed_session(logs_dir: Path) -> Path:
    path = write_session(
        logs_dir,
        A,
        status="failed",
        exit_code=1,
        error={
            "code": "sql.error",
            "message": "table shop.orderz does not exist",
            "step_id": "load",
        },
        rows_read=3,
        steps={
            "extract": {"status": "succeeded", "rows": 3, "duration_ms": 120, "error": None},
            "load": {
                "status": "failed",
                "rows": None,
                "duration_ms": 45,
                "error": {"code": "sql.error", "message": "table shop.orderz does not exist"},
            },
        },
    )
    write_events(
        path,
        {"ts": "2025-01-02T03:04:05.010Z", "event": "run_start", "executor": "local"},
        {"ts": "2025-01-02T03:04:05.020Z", "event": "step_start", "step": "extract"},
        {"ts": "2025-01-02T03:04:05.140Z", "event": "run_stdout", "line": "extracted 3 rows"},
        {
            "ts": "2025-01-02T03:04:05.150Z",
            "event": "step_complete",
            "step": "extract",
            "rows": 3,
            "duration_ms": 120,
        },
        {
            "ts": "2025-01-02T03:04:05.200Z",
            "event": "step_failed",
            "step": "load",
            "error_code": "sql.error",
            "message": "table shop.orderz does not exist",
        },
    )
    return path


def test_show_prints_a_readable_summary(failed_session, capsys):
    assert logs_show(failed_session.parent, "aaa", events=False, as_json=False) == 0
    assert capsys.readouterr().out == (
        f"session   {A}\n"
        "pipeline  orders (pipeline.yaml)\n"
        "status    failed, exit code 1\n"
        "executor  local\n"
        "started   2025-01-02T03:04:05.000Z\n"
        "ended     2025-01-02T03:04:06.500Z\n"
        "duration  1.5s\n"
        "rows      read 3, written 0\n"
        "error     step load: sql.error: table shop.orderz does not exist\n"
        "events    5 recorded\n"
        f"path      {failed_session}\n"
        "\n"
        "steps\n"
        "  STEP     STATUS     ROWS  DURATION  ERROR\n"
        "  extract  succeeded  3     120ms\n"
        "  load     failed     -     45ms      sql.error: table shop.orderz does not exist\n"
    )


def test_show_with_events_prints_the_timeline(failed_session, capsys):
    logs_show(failed_session.parent, A, events=True, as_json=False)
    out = capsys.readouterr().out
    assert out.split("\n\n")[-1] == (
        "events\n"
        "  03:04:05.010  run_start      executor=local\n"
        "  03:04:05.020  step_start     step=extract\n"
        "  03:04:05.140  run_stdout     extracted 3 rows\n"
        "  03:04:05.150  step_complete  step=extract rows=3 duration_ms=120\n"
        '  03:04:05.200  step_failed    step=load error_code=sql.error message="table shop.orderz'
        ' does not exist"\n'
    )


def test_show_as_json(failed_session, capsys):
    logs_show(failed_session.parent, "last", events=True, as_json=True)
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "failed"
    assert shown["session"]["error"]["step_id"] == "load"
    assert list(shown["steps"]) == ["extract", "load"]
    assert [e["event"] for e in shown["events"]] == [
        "run_start",
        "step_start",
        "run_stdout",
        "step_complete",
        "step_failed",
    ]
    assert shown["problems"] == []


def test_show_fills_steps_from_events_when_session_json_lags(logs_dir, capsys):
    path = write_session(logs_dir, A, status="failed", exit_code=1)
    write_events(
        path,
        {"ts": "2025-01-02T03:04:05.020Z", "event": "step_start", "step": "extract"},
        {
            "ts": "2025-01-02T03:04:05.150Z",
            "event": "step_complete",
            "step": "extract",
            "rows": 7,
            "duration_ms": 1200,
        },
        {"ts": "2025-01-02T03:04:05.160Z", "event": "step_start", "step": "load"},
        {
            "ts": "2025-01-02T03:04:05.200Z",
            "event": "step_failed",
            "step": "load",
            "error_code": "auth.failed",
            "message": "access denied for user app",
        },
    )
    logs_show(logs_dir, A, events=False, as_json=False)
    out = capsys.readouterr().out
    assert (
        "  STEP     STATUS     ROWS  DURATION  ERROR\n"
        "  extract  succeeded  7     1.2s\n"
        "  load     failed     -     -         auth.failed: access denied for user app\n"
    ) in out
