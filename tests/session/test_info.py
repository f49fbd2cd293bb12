from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from osiris.session import Session
from osiris.session.commands import logs_bundle, logs_list, logs_show
from osiris.session.info import process_alive
from testing.session_helpers import assert_session_valid

# A run that is SIGKILLed after a torn write: the last events.jsonl line stops mid-object.
TORN = """
import sys, time
from pathlib import Path
from osiris.session import Session

s = Session.create(Path(sys.argv[1]), pipeline_name="orders", pipeline_file="pipeline.yaml",
                   executor="local")
s.emit("run_start", executor="local")
s.emit("step_start", step="extract")
s.step_update("extract", status="running")
s.stream_writer("stdout")("extracting")
with open(s.path / "events.jsonl", "a") as f:
    f.write('{"ts":"2025-01-01T00:00:00.000Z","session":"' + s.id + '","event":"step_comp')
print(s.path, flush=True)
time.sleep(120)
"""

# A run killed while it writes as fast as it can: wherever the kill lands must be readable.
BUSY = """
import sys
from pathlib import Path
from osiris.session import Session

s = Session.create(Path(sys.argv[1]), pipeline_name="orders", pipeline_file="pipeline.yaml",
                   executor="local")
print(s.path, flush=True)
n = 0
while True:
    n += 1
    s.emit("run_stdout", line="x" * 20000 + str(n))
    s.metric("rows_read", n, "rows", step="extract")
    s.step_update("extract", status="running", rows=n)
"""


def _killed(tmp_path: Path, script: str, settle: float = 0.0) -> Path:
    logs_dir = tmp_path / "logs"
    with subprocess.Popen(
        [sys.executable, "-c", script, str(logs_dir)], stdout=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        path = Path(proc.stdout.readline().strip())
        time.sleep(settle)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    return path


def test_a_sigkilled_run_shows_as_interrupted_with_its_torn_line(tmp_path, capsys):
    path = _killed(tmp_path, TORN)
    info = Session.open(path)
    pid = json.loads((path / "session.json").read_text())["host"]["pid"]
    assert (info.status, info.incomplete) == ("interrupted", True)
    assert_session_valid(path, allow_truncated=True)

    assert logs_show(path.parent, "last", events=True, as_json=False) == 0
    out = capsys.readouterr().out
    assert "status      interrupted (incomplete)\n" in out
    assert "  extract  interrupted  -     -\n" in out
    assert out.endswith(
        "events\n"
        f"  {info.events().records[0]['ts'][11:23]}  run_start   executor=local\n"
        f"  {info.events().records[1]['ts'][11:23]}  step_start  step=extract\n"
        "\n"
        f"note: the run never finished: its process (pid {pid}) is gone, so the session is "
        "incomplete\n"
        "note: events.jsonl:3: last line is truncated (the writer stopped mid-line), ignored\n"
    )

    logs_list(path.parent, as_json=False)
    assert f"{path.name}  orders    interrupted (incomplete)  -         local" in (
        capsys.readouterr().out
    )

    assert logs_bundle(path.parent, path.name, out=None) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{path.parent / (path.name + '.zip')}\n"
    assert captured.err == f"note: session {path.name} is interrupted (incomplete)\n"
    with zipfile.ZipFile(path.parent / f"{path.name}.zip") as zf:
        manifest = json.loads(zf.read(f"{path.name}/bundle_manifest.json"))
        assert zf.read(f"{path.name}/artifacts/stdout.txt") == b"extracting\n"
    assert (manifest["status"], manifest["incomplete"]) == ("interrupted", True)


def test_a_run_killed_mid_write_stays_readable(tmp_path, capsys):
    path = _killed(tmp_path, BUSY, settle=0.3)
    info = Session.open(path)
    assert (info.status, info.incomplete) == ("interrupted", True)
    events = info.events()
    assert events.records, "the child wrote events before it was killed"
    assert all(r["event"] == "run_stdout" for r in events.records)
    assert_session_valid(path, allow_truncated=True)
    assert logs_show(path.parent, path.name, events=False, as_json=False) == 0
    assert "status      interrupted (incomplete)\n" in capsys.readouterr().out
    assert logs_bundle(path.parent, path.name, out=tmp_path / "b.zip") == 0


def test_process_alive(tmp_path):
    assert process_alive(os.getpid())
    assert process_alive(os.getpid(), not_before=time.time())
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert not process_alive(int(done.stdout))


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_pid_younger_than_the_session_is_not_its_writer():
    # This process started long after 2001-09-09, so it cannot have written such a session.
    assert not process_alive(os.getpid(), not_before=1_000_000_000)


def test_open_a_session_without_session_json(tmp_path):
    path = tmp_path / "run_20250101T000000_abcdef"
    path.mkdir()
    info = Session.open(path)
    assert (info.id, info.status, info.incomplete) == (path.name, "interrupted", True)
    assert info.problems == [
        "session.json is missing: the run stopped before recording a status",
    ]
    assert info.started_at == "2025-01-01T00:00:00.000Z"
    assert info.events().problems == ["events.jsonl is missing"]
