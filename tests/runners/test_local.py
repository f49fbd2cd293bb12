"""LocalRunner specifics: signals to a real `osiris run`, registry errors."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from osiris.errors import UsageError
from osiris.runners import get_runner
from osiris.runners.local import LocalRunner
from testing.runner_helpers import osiris_cli, start_run, write_pipeline

SLEEPY = """
oml_version: "0.1.0"
name: sleepy
steps:
  - id: nap
    component: testkit.sleeper
    mode: extract
    config: {seconds: 60, heartbeat: 0.5, spawn_child: true}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [nap]
    config: {path: nap.csv}
"""


def test_registry_resolves_and_rejects():
    assert get_runner("local") is LocalRunner
    with pytest.raises(UsageError) as err:
        get_runner("k8s")
    assert err.value.message == "unknown executor 'k8s'; expected one of: e2b, local"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_to_osiris_run_interrupts_cleanly(tmp_path, sig):
    write_pipeline(tmp_path, SLEEPY)
    proc, _ = start_run(tmp_path, "start  nap")
    time.sleep(1.0)  # let the executor start its grandchild
    sent = time.monotonic()
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=15)
    proc.stdout.close()
    assert proc.returncode == 130
    assert time.monotonic() - sent < 10
    assert "Interrupted (exit 130): [interrupted]" in err

    session = next(p for p in (tmp_path / "logs").iterdir() if p.is_dir())
    info = json.loads((session / "session.json").read_text())
    assert info["status"] == "interrupted" and info["exit_code"] == 130
    events = [json.loads(line) for line in (session / "events.jsonl").read_text().splitlines()]
    names = [e["event"] for e in events]
    assert names[-2:] == ["run_failed", "run_cleanup"]
    assert events[-2]["reason"] == "interrupted"
    stdout = (session / "artifacts" / "stdout.txt").read_text()
    grandchild = int(next(x for x in stdout.splitlines() if "grandchild pid" in x).split()[-1])
    stat = Path(f"/proc/{grandchild}/stat")
    assert not stat.exists() or stat.read_text().split(") ")[1][0] == "Z"


def test_sigkill_leaves_a_readable_interrupted_session_and_no_executor(tmp_path):
    write_pipeline(tmp_path, SLEEPY)
    proc, _ = start_run(tmp_path, "start  nap")
    time.sleep(1.0)
    proc.kill()
    proc.communicate(timeout=10)
    session = next(p for p in (tmp_path / "logs").iterdir() if p.is_dir())
    executor_pid = json.loads((session / "session.json").read_text())["executor_pid"]
    stdout = (session / "artifacts" / "stdout.txt").read_text()
    grandchild = int(next(x for x in stdout.splitlines() if "grandchild pid" in x).split()[-1])
    # the executor notices its runner is gone and ends its whole process group
    for pid in (executor_pid, grandchild):
        stat = Path(f"/proc/{pid}/stat")
        deadline = time.monotonic() + 10
        while stat.exists() and time.monotonic() < deadline:
            if stat.read_text().split(") ")[1][0] == "Z":
                break
            time.sleep(0.1)
        assert not stat.exists() or stat.read_text().split(") ")[1][0] == "Z"

    show = osiris_cli("logs", "show", session.name, cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    assert "interrupted" in show.stdout
    bundle = osiris_cli("logs", "bundle", session.name, cwd=tmp_path)
    assert bundle.returncode == 0, bundle.stderr
    assert Path(tmp_path, bundle.stdout.strip()).is_file()
