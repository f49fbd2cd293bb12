"""Many pipelines in one `osiris run`: side by side, each in its own session and runner.

Concurrency is proven from what the sessions recorded (every run's start lies before every
other run's end), not from wall-clock thresholds; docs/benchmarks.md has the timings.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from osiris.session.info import parse_timestamp
from testing import db
from testing.runner_helpers import osiris_cli, write_pipeline

WAIT_IN_POSTGRES = """
oml_version: "0.1.0"
name: wait-{i}
steps:
  - id: wait
    component: postgres.extractor
    mode: read
    config:
      connection: "@postgres.main"
      query: "select {i} as n, pg_sleep(1.5) is null as slept"
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [wait]
    config: {{path: out/wait-{i}.csv}}
"""

NAP = """
oml_version: "0.1.0"
name: nap-{i}
steps:
  - id: nap
    component: testkit.sleeper
    mode: extract
    config: {{seconds: {seconds}, heartbeat: 0.2}}
"""


def sessions(cwd: Path) -> list[dict[str, Any]]:
    logs = cwd / "logs"
    found = [p for p in logs.iterdir() if p.is_dir()] if logs.is_dir() else []
    return [json.loads((p / "session.json").read_text("utf-8")) for p in sorted(found)]


def assert_side_by_side(recorded: list[dict[str, Any]]) -> None:
    """Every run started before every other run ended: they all ran at the same time."""
    spans = [(parse_timestamp(s["started_at"]), parse_timestamp(s["ended_at"])) for s in recorded]
    assert all(a is not None and b is not None for a, b in spans)
    latest_start = max(a for a, _ in spans if a is not None)
    earliest_end = min(b for _, b in spans if b is not None)
    assert latest_start < earliest_end, spans


@pytest.fixture
def pg(tmp_path):
    with db.postgres_database() as conn:
        (tmp_path / "osiris_connections.yaml").write_text(
            "connections:\n  postgres:\n    main:\n"
            f"      {{host: 127.0.0.1, port: 5432, user: postgres, database: {conn['database']}}}\n"
        )
        yield conn


def test_pipelines_run_side_by_side_each_in_its_own_session(tmp_path, pg):
    files = [
        write_pipeline(tmp_path, WAIT_IN_POSTGRES.format(i=i), f"wait-{i}.yaml").name
        for i in range(4)
    ]
    done = osiris_cli("run", *files, "--parallel", "4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    recorded = sessions(tmp_path)
    assert sorted(s["pipeline"]["name"] for s in recorded) == [f"wait-{i}" for i in range(4)]
    assert {s["status"] for s in recorded} == {"succeeded"}
    assert_side_by_side(recorded)
    for i in range(4):
        with (tmp_path / "out" / f"wait-{i}.csv").open(newline="") as f:
            assert list(csv.reader(f)) == [["n", "slept"], [str(i), "false"]]
    # one line per pipeline and a total
    lines = done.stdout.splitlines()
    assert lines[0] == "Running 4 pipelines, up to 4 at a time, with the local executor"
    for i in range(4):
        found = [x for x in lines if f"wait-{i} (wait-{i}.yaml)" in x]
        assert len(found) == 1, done.stdout
        line = found[0]
        assert line.split()[0] == "succeeded" and "1 rows read" in line and "session " in line
    assert lines[-1].startswith("Total: 4 pipelines: 4 ok in ")


def test_the_exit_code_is_the_worst_and_every_valid_pipeline_runs(tmp_path, pg):
    write_pipeline(tmp_path, WAIT_IN_POSTGRES.format(i=1), "good.yaml")
    write_pipeline(
        tmp_path,
        WAIT_IN_POSTGRES.format(i=2).replace("pg_sleep(1.5)", "no_such_function()"),
        "fails.yaml",
    )
    write_pipeline(
        tmp_path, NAP.format(i=3, seconds=0).replace("testkit.sleeper", "nope"), "x.yaml"
    )
    done = osiris_cli(
        "run", "good.yaml", "fails.yaml", "x.yaml", "--parallel=2", "--json", cwd=tmp_path
    )
    assert done.returncode == 2, done.stderr  # invalid (2) is worse than a failed step (1)
    assert "unknown component 'nope'" in done.stderr
    summary = json.loads(done.stdout)
    assert summary["exit_code"] == 2
    runs = {Path(r["pipeline_file"]).name: r for r in summary["runs"]}
    assert runs["good.yaml"]["status"] == "succeeded" and runs["good.yaml"]["rows_written"] == 1
    assert runs["fails.yaml"]["status"] == "failed" and runs["fails.yaml"]["exit_code"] == 1
    assert runs["fails.yaml"]["error"]["step_id"] == "wait"
    assert runs["x.yaml"]["status"] == "invalid"
    assert len(sessions(tmp_path)) == 2
    # a failed run bundles its session, as a single run does
    assert (tmp_path / runs["fails.yaml"]["bundle"]).is_file()


def test_each_pipeline_gets_its_own_sandbox_and_every_sandbox_is_killed(tmp_path, e2b_standin):
    files = [
        write_pipeline(tmp_path, NAP.format(i=i, seconds=1.5), f"nap-{i}.yaml").name
        for i in range(3)
    ]
    done = osiris_cli("run", *files, "--parallel", "3", "--executor", "e2b", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    recorded = sessions(tmp_path)
    assert {s["status"] for s in recorded} == {"succeeded"} and len(recorded) == 3
    assert_side_by_side(recorded)
    sandboxes = {r.sandbox_id: r for r in e2b_standin.history}
    assert sorted(s["sandbox_id"] for s in recorded) == sorted(sandboxes)
    assert {r.end_reason for r in sandboxes.values()} == {"killed"}
    assert "with the e2b executor" in done.stdout


def _start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost"}
    return subprocess.Popen(
        [sys.executable, "-m", "osiris", "run", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_until_running(cwd: Path, n: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        logs = cwd / "logs"
        started = [
            p
            for p in (logs.iterdir() if logs.is_dir() else [])
            if (p / "events.jsonl").is_file()
            and b'"step_start"' in (p / "events.jsonl").read_bytes()
        ]
        if len(started) == n:
            return
        time.sleep(0.1)
    raise AssertionError("the runs did not start")


@pytest.mark.parametrize("executor", ["local", "e2b"])
def test_an_interrupt_stops_every_run_and_records_it(tmp_path, executor, request):
    standin = request.getfixturevalue("e2b_standin") if executor == "e2b" else None
    files = [
        write_pipeline(tmp_path, NAP.format(i=i, seconds=60), f"nap-{i}.yaml").name
        for i in range(3)
    ]
    proc = _start(tmp_path, *files, "--parallel", "3", "--executor", executor)
    _wait_until_running(tmp_path, 3, proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted: every run was stopped" in err
    recorded = sessions(tmp_path)
    assert [s["status"] for s in recorded] == ["interrupted"] * 3
    for s in recorded:
        assert s["steps"]["nap"]["status"] == "interrupted"
        if executor == "local":
            pid = s["executor_pid"]
            assert (
                not Path(f"/proc/{pid}").exists()
                or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
            )
    if standin is not None:
        assert {r.end_reason for r in standin.history} == {"killed"}
        assert len(standin.history) == 3
    # each finalized session has its report
    assert all((tmp_path / "logs" / s["session_id"] / "report.html").is_file() for s in recorded)


def test_runs_wait_for_a_sandbox_while_the_e2b_limit_is_reached(tmp_path, e2b_standin):
    e2b_standin.faults.max_sandboxes = 2
    files = [
        write_pipeline(tmp_path, NAP.format(i=i, seconds=1.5), f"nap-{i}.yaml").name
        for i in range(3)
    ]
    done = osiris_cli("run", *files, "--parallel", "3", "--executor", "e2b", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert e2b_standin.faults.refused >= 1
    history = e2b_standin.history
    assert len(history) == 3 and {r.end_reason for r in history} == {"killed"}
    # never more than two alive at once
    for r in history:
        alive = [o for o in history if o.created_at <= r.created_at < (o.killed_at or 1e18)]
        assert len(alive) <= 2
    notices = [
        json.loads(line)
        for p in (tmp_path / "logs").iterdir()
        if p.is_dir()
        for line in (p / "events.jsonl").read_text("utf-8").splitlines()
        if '"run_notice"' in line
    ]
    assert any("maximum number of concurrent E2B sandboxes (2)" in n["message"] for n in notices), (
        notices
    )


def test_a_run_that_gets_no_sandbox_in_time_fails_clearly(tmp_path, e2b_standin):
    e2b_standin.faults.max_sandboxes = 1
    files = [
        write_pipeline(tmp_path, NAP.format(i=i, seconds=3), f"nap-{i}.yaml").name for i in range(2)
    ]
    env = {"OSIRIS_RUNNER__E2B__WAIT_FOR_SANDBOX_SECONDS": "0"}
    done = osiris_cli(
        "run", *files, "--parallel", "2", "--executor", "e2b", "--json", cwd=tmp_path, env=env
    )
    assert done.returncode == 4, done.stderr
    runs = json.loads(done.stdout)["runs"]
    assert sorted(r["status"] for r in runs) == ["failed", "succeeded"]
    [failed] = [r for r in runs if r["status"] == "failed"]
    assert failed["error"]["code"] == "runner.error"
    assert "maximum number of concurrent E2B sandboxes (1)" in failed["error"]["message"]
    assert "--parallel" in failed["error"]["hint"]
