"""The LocalRunner's warm start: `osiris run` starts `osiris exec --stdin` before compiling."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from osiris.runners.local import LocalRunner, WarmExecutor
from testing.runner_helpers import (
    PROBE_CONNECTIONS,
    osiris_cli,
    run_pipeline,
    start_run,
    write_pipeline,
)

SECRET = "warm-secret-7f3a9c"
PROBE_THEN_NAP = """
oml_version: "0.1.0"
name: warm
steps:
  - id: probe
    component: testkit.probe
    mode: extract
    config: {connection: "@testdb.main"}
  - id: nap
    component: testkit.sleeper
    mode: extract
    config: {seconds: 2, heartbeat: 0.2}
"""


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


def _executor_pid(cwd: Path) -> int:
    session = next(p for p in (cwd / "logs").iterdir() if p.is_dir())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        info = json.loads((session / "session.json").read_text())
        if info.get("executor_pid"):
            return int(info["executor_pid"])
        time.sleep(0.05)
    raise AssertionError("no executor_pid in session.json")


@pytest.mark.parametrize("warm", [True, False])
def test_the_executor_is_warm_started_and_gets_secrets_only_over_its_pipe(tmp_path, warm):
    write_pipeline(tmp_path, PROBE_THEN_NAP)
    (tmp_path / "osiris_connections.yaml").write_text(PROBE_CONNECTIONS)
    env = {"TESTDB_PASSWORD": SECRET, "TESTDB_DSN": "postgresql://etl@db/x"}
    if not warm:
        env["OSIRIS_WARM_START"] = "0"
    proc, _ = start_run(tmp_path, "start  nap", env=env)
    pid = _executor_pid(tmp_path)
    cmdline = _cmdline(pid)
    initial_env = Path(f"/proc/{pid}/environ").read_bytes()
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    if warm:
        assert cmdline[2:5] == ["osiris", "exec", "--stdin"]
        assert cmdline[5] == f"--preload={tmp_path / 'pipeline.yaml'}"
        # the manifest's variables arrived over stdin: not in the environment it started with
        assert SECRET.encode() not in initial_env and b"TESTDB_PASSWORD" not in initial_env
    else:
        assert cmdline[2:4] == ["osiris", "exec"] and cmdline[4].endswith("manifest.json")
        assert f"TESTDB_PASSWORD={SECRET}".encode() in initial_env.split(b"\0")
    assert not any(SECRET in arg for arg in cmdline)
    # the probe resolved its connection from the variable (then osiris masked what it printed)
    session = next(p for p in (tmp_path / "logs").iterdir() if p.is_dir())
    stdout = (session / "artifacts" / "stdout.txt").read_text()
    assert "with password ***" in stdout and SECRET not in stdout


def test_a_run_that_does_not_compile_leaves_no_warm_executor_behind(tmp_path):
    write_pipeline(tmp_path, PROBE_THEN_NAP.replace("testkit.sleeper", "testkit.nosuch"))
    result = osiris_cli("run", "pipeline.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "unknown component 'testkit.nosuch'" in result.stderr
    preload = f"--preload={tmp_path / 'pipeline.yaml'}"
    left = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if preload in _cmdline(int(entry.name)):
                    left.append(entry.name)
            except OSError:
                continue
    assert left == []


def test_a_warm_executor_that_died_is_replaced_by_a_fresh_one(tmp_path):
    pipeline = write_pipeline(tmp_path, PROBE_THEN_NAP.replace("seconds: 2", "seconds: 0"))
    (tmp_path / "osiris_connections.yaml").write_text(PROBE_CONNECTIONS)
    env = {"TESTDB_PASSWORD": SECRET, "TESTDB_DSN": "postgresql://etl@db/x"}
    warm = WarmExecutor.start(pipeline, environ={**os.environ})
    assert warm is not None
    warm.proc.kill()
    warm.proc.wait(timeout=10)
    runner = LocalRunner(warm=warm)
    outcome = run_pipeline(tmp_path, runner, pipeline, env=env)
    assert outcome.result.status == "succeeded", outcome.events()
    assert outcome.session_json()["executor_pid"] != warm.proc.pid


def test_only_single_local_runs_are_warm_started(tmp_path, monkeypatch):
    from osiris.cli import _parse, _warm_executor

    def warm_for(*argv: str) -> WarmExecutor | None:
        return _warm_executor(_parse(["run", *argv]))

    pipeline = str(tmp_path / "p.yaml")
    monkeypatch.delenv("OSIRIS_RUNNER__EXECUTOR", raising=False)
    monkeypatch.delenv("OSIRIS_WARM_START", raising=False)
    assert warm_for(pipeline, "--executor=e2b") is None
    assert warm_for(pipeline, "--dry-run") is None
    assert warm_for(pipeline, str(tmp_path / "q.yaml")) is None  # several pipelines
    monkeypatch.setenv("OSIRIS_RUNNER__EXECUTOR", "e2b")
    assert warm_for(pipeline) is None
    monkeypatch.setenv("OSIRIS_RUNNER__EXECUTOR", "local")
    monkeypatch.setenv("OSIRIS_WARM_START", "0")
    assert warm_for(pipeline) is None
    monkeypatch.delenv("OSIRIS_WARM_START")
    warm = warm_for(pipeline)
    assert warm is not None
    warm.discard()  # closing its stdin before a run is sent ends it
    assert warm.proc.returncode is not None


def test_exec_stdin_without_a_run_exits_quietly(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "osiris", "exec", "--stdin", f"--preload={tmp_path / 'none.yaml'}"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_runner_cpu_pins_every_thread_of_a_warm_executor(tmp_path):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs at least two CPUs to see a limit")
    write_pipeline(
        tmp_path,
        """
        oml_version: "0.1.0"
        name: pinned
        steps:
          - id: nap
            component: testkit.sleeper
            mode: extract
            config: {seconds: 0, report_cpus: true}
        """,
    )
    (tmp_path / "osiris.yaml").write_text("runner:\n  cpu: 1\n")
    result = osiris_cli("run", "pipeline.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    session = next(p for p in (tmp_path / "logs").iterdir() if p.is_dir())
    lines = (session / "artifacts" / "stdout.txt").read_text().splitlines()
    cpus = [line.split(" cpus ")[1] for line in lines if line.startswith("thread ")]
    # the warm executor imported pyarrow before it knew the limit; its threads are pinned too
    assert len(cpus) >= 2
    assert len(set(cpus)) == 1 and cpus[0].count(",") == 0
