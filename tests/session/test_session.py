from __future__ import annotations

import json
import logging
import os
import platform
import re
import socket
from pathlib import Path

import pytest

from osiris import __version__
from osiris.errors import RunnerError
from osiris.session import Masker, Session
from testing.session_helpers import assert_session_valid


def _create(logs_dir: Path, **kwargs) -> Session:
    kwargs.setdefault("pipeline_name", "orders")
    kwargs.setdefault("pipeline_file", "pipeline.yaml")
    kwargs.setdefault("executor", "local")
    return Session.create(logs_dir, **kwargs)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _state(session: Session) -> dict:
    return json.loads((session.path / "session.json").read_text(encoding="utf-8"))


def test_create_lays_out_the_directory_and_records_running(logs_dir):
    session = _create(logs_dir / "nested")
    assert re.fullmatch(r"run_\d{8}T\d{6}_[0-9a-f]{6}", session.id)
    assert session.path == logs_dir / "nested" / session.id
    assert session.artifacts == session.path / "artifacts"
    assert session.outputs.is_dir()
    assert sorted(p.name for p in session.path.iterdir()) == [
        "artifacts",
        "events.jsonl",
        "metrics.jsonl",
        "session.json",
    ]
    state = _state(session)
    assert list(state) == [
        "session_id",
        "pipeline",
        "fingerprint",
        "executor",
        "status",
        "exit_code",
        "error",
        "started_at",
        "ended_at",
        "duration_ms",
        "steps",
        "rows_read",
        "rows_written",
        "versions",
        "host",
    ]
    assert state["status"] == "running"
    assert state["pipeline"] == {"name": "orders", "file": "pipeline.yaml"}
    assert state["versions"] == {"osiris": __version__, "python": platform.python_version()}
    assert state["host"]["pid"] == os.getpid()
    assert state["host"]["hostname"] == socket.gethostname()
    session.close()


def test_ids_are_unique(logs_dir):
    sessions = [_create(logs_dir) for _ in range(20)]
    assert len({s.id for s in sessions}) == 20
    for s in sessions:
        s.finalize("succeeded", 0)
        s.close()


def test_emit_writes_one_masked_line_per_event(logs_dir):
    session = _create(logs_dir, masker=Masker(["hunter2"]))
    session.emit("run_start", executor="local", dsn="mysql://app:hunter2@db/x")
    session.emit("step_start", step="extract", ts="2025-01-01T00:00:00.000Z", session="other")
    lines = _lines(session.path / "events.jsonl")
    assert list(lines[0]) == ["ts", "session", "event", "executor", "dsn"]
    assert lines[0]["session"] == session.id
    assert lines[0]["dsn"] == "mysql://app:***@db/x"
    assert lines[1] == {
        "ts": "2025-01-01T00:00:00.000Z",
        "session": session.id,
        "event": "step_start",
        "step": "extract",
    }
    session.emit("step_start", step="load", ts="yesterday", score=float("nan"))
    relayed = _lines(session.path / "events.jsonl")[2]
    assert relayed["ts"] != "yesterday"
    assert relayed["score"] is None
    with pytest.raises(ValueError, match="invalid event name 'Bad Name'"):
        session.emit("Bad Name")
    session.finalize("succeeded", 0)
    session.close()
    assert_session_valid(session.path)


def test_filtered_events_are_not_written_but_the_session_finalizes(logs_dir):
    session = _create(logs_dir, events=["run_*", "step_fail*"])
    session.emit("run_start")
    session.emit("step_start", step="a")
    session.step_update("a", status="running")
    session.emit("step_failed", step="a", error_code="sql.error", message="bad")
    session.emit("brand_new_event")
    session.emit("run_failed", exit_code=1, message="step a failed")
    session.finalize("failed", 1, {"code": "sql.error", "message": "bad", "step": "a"})
    session.close()
    assert [e["event"] for e in _lines(session.path / "events.jsonl")] == [
        "run_start",
        "step_failed",
        "run_failed",
    ]
    state = _state(session)
    assert state["status"] == "failed"
    assert state["exit_code"] == 1
    assert state["steps"]["a"]["status"] == "interrupted"
    assert_session_valid(session.path)


def test_an_empty_event_list_writes_no_events(logs_dir):
    session = _create(logs_dir, events=[])
    session.emit("run_start")
    session.finalize("succeeded", 0)
    session.close()
    assert (session.path / "events.jsonl").read_text() == ""
    assert _state(session)["status"] == "succeeded"


def test_metrics_are_masked_including_tags(logs_dir):
    session = _create(logs_dir, masker=Masker(["hunter2"]))
    session.metric("rows_read", 10, "rows", step="extract", note="pw hunter2")
    session.metric("step_duration_ms", 12.5, "ms", step="extract")
    session.metric("bytes_uploaded", float("nan"), "bytes")
    with pytest.raises(TypeError, match="metric rows_written: value must be a number, got True"):
        session.metric("rows_written", True, "rows")
    session.finalize("succeeded", 0)
    session.close()
    lines = _lines(session.path / "metrics.jsonl")
    assert [(m["metric"], m["value"], m["unit"], m["tags"]) for m in lines] == [
        ("rows_read", 10, "rows", {"step": "extract", "note": "pw ***"}),
        ("step_duration_ms", 12.5, "ms", {"step": "extract"}),
    ]
    assert_session_valid(session.path)


def test_artifacts_and_streams_are_masked(logs_dir):
    session = _create(logs_dir, masker=Masker(["hunter2"]))
    path = session.write_artifact("pipeline.yaml", "password: hunter2\n")
    assert path == session.artifacts / "pipeline.yaml"
    assert path.read_text() == "password: ***\n"
    raw = session.write_artifact("outputs/data.bin", b"hunter2")
    assert raw.read_bytes() == b"hunter2"
    for bad in ("../x", "/etc/x", "", "a/../../x"):
        with pytest.raises(ValueError, match="must be relative and stay in artifacts/"):
            session.write_artifact(bad, "x")

    out = session.stream_writer("stdout")
    assert session.stream_writer("stdout") is out
    out("connecting with hunter2\n")
    out("done")
    session.stream_writer("stderr")("warning: token=abc")
    session.finalize("succeeded", 0)
    session.close()
    out("after close is dropped")
    assert (session.artifacts / "stdout.txt").read_text() == "connecting with ***\ndone\n"
    assert (session.artifacts / "stderr.txt").read_text() == "warning: token=***\n"


def test_update_and_step_update_rewrite_session_json(logs_dir):
    session = _create(logs_dir, masker=Masker(["hunter2"]))
    session.update(fingerprint="sha256:ab", pipeline={"file": "p.yaml"}, session_id="ignored")
    session.step_update("extract", status="running")
    session.step_update("extract", status="succeeded", rows=3, duration_ms=5)
    session.step_update(
        "load", status="failed", error={"code": "auth.failed", "message": "hunter2"}
    )
    session.update(rows_read=3, rows_written=0)
    state = _state(session)
    assert state["session_id"] == session.id
    assert state["fingerprint"] == "sha256:ab"
    assert state["pipeline"] == {"name": "orders", "file": "p.yaml"}
    assert state["steps"] == {
        "extract": {"status": "succeeded", "rows": 3, "duration_ms": 5, "error": None},
        "load": {
            "status": "failed",
            "rows": None,
            "duration_ms": None,
            "error": {"code": "auth.failed", "message": "***"},
        },
    }
    assert not (session.path / "session.json.tmp").exists()
    session.close()


def test_finalize_only_counts_once(logs_dir):
    session = _create(logs_dir)
    session.finalize("failed", 1, {"message": "step a failed", "step": "a"})
    session.finalize("succeeded", 0)
    state = _state(session)
    assert (state["status"], state["exit_code"]) == ("failed", 1)
    assert state["error"] == {"message": "step a failed", "step": "a"}
    assert isinstance(state["duration_ms"], int)
    assert state["ended_at"] >= state["started_at"]
    with pytest.raises(ValueError, match="final status must be one of"):
        session.finalize("running", 0)
    session.close()
    assert_session_valid(session.path)


def test_close_without_finalize_records_an_internal_failure(logs_dir):
    session = _create(logs_dir)
    session.close()
    session.close()
    state = _state(session)
    assert (state["status"], state["exit_code"]) == ("failed", 3)
    assert state["error"] == {"code": "internal", "message": "the run ended without a final status"}


@pytest.mark.parametrize(
    ("exc", "status", "exit_code", "error"),
    [
        (KeyboardInterrupt(), "interrupted", 130, {"message": "interrupted"}),
        (RunnerError("sandbox did not start"), "failed", 4, {"message": "sandbox did not start"}),
        (
            KeyError("x"),
            "failed",
            3,
            {"code": "internal", "message": "unexpected error: KeyError: 'x'"},
        ),
    ],
)
def test_context_manager_records_how_the_block_ended(logs_dir, exc, status, exit_code, error):
    with pytest.raises(type(exc)), _create(logs_dir) as session:
        raise exc
    state = _state(session)
    assert (state["status"], state["exit_code"], state["error"]) == (status, exit_code, error)


def test_logging_writes_a_masked_osiris_log(logs_dir):
    session = _create(logs_dir, masker=Masker(["hunter2"]))
    with session.logging():
        logging.getLogger("osiris.runners.local").info("env has hunter2")
    logging.getLogger("osiris.runners.local").info("not logged to the file")
    session.finalize("succeeded", 0)
    session.close()
    text = (session.path / "osiris.log").read_text()
    assert text.endswith(" INFO    osiris.runners.local: env has ***\n")
    assert text.count("\n") == 1


def test_open_reads_a_live_session_as_running(logs_dir):
    session = _create(logs_dir)
    info = Session.open(session.path)
    assert (info.status, info.incomplete, info.problems) == ("running", False, [])
    session.finalize("dry_run", 0)
    assert Session.open(session.path).status == "dry_run"
    session.close()


def test_a_secret_reaches_no_file_of_the_session_or_its_bundle(logs_dir):
    import base64
    import zipfile
    from urllib.parse import quote

    from osiris.session import bundle_session

    secret = "Pa55/w0rd+é"
    environ = {"PG_PASSWORD": secret}
    manifest = {
        "env": {"required": ["PG_PASSWORD"], "optional": [], "secret": ["PG_PASSWORD"]},
        "connections": {},
    }
    forms = [secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode()]
    session = _create(logs_dir, masker=Masker.from_manifest(manifest, environ))
    with session.logging():
        logging.getLogger("osiris.executor").warning("connect with %s", secret)
    for form in forms:
        session.emit("run_stdout", line=f"pw={form}", **{f"k{secret}": form})
        session.metric("rows_read", 1, "rows", note=form)
        session.stream_writer("stderr")(f"trace: {form}")
        session.step_update("s", error={"message": form})
    session.write_artifact("pipeline.yaml", f"# {secret}\n")
    session.finalize("failed", 1, {"message": f"auth failed for {secret}"})
    session.close()
    bundle = bundle_session(session.path)

    blobs = {p: p.read_bytes() for p in session.path.rglob("*") if p.is_file()}
    with zipfile.ZipFile(bundle) as zf:
        blobs.update({Path(n): zf.read(n) for n in zf.namelist()})
    assert len(blobs) > 10
    for path, blob in blobs.items():
        text = blob.decode("utf-8")
        leaked = [form for form in forms if form in text]
        assert not leaked, f"{path} shows {leaked}"
