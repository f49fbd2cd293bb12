"""Secrets canary: unique secret values go in; not one byte of them may come out anywhere.

Every run kind (success, step failure, dry-run, interrupted, failure before submit) is scanned:
the whole session directory, the bundle (also unzipped), and the CLI's stdout and stderr, for the
canaries in plain text, URL-encoded and base64 forms.
"""

from __future__ import annotations

import base64
import signal
import time
import urllib.parse
import zipfile
from pathlib import Path

import pytest

from testing.runner_helpers import PROBE_CONNECTIONS, osiris_cli, start_run, write_pipeline

PASSWORD = "Canary-Pw/4f9e+X@q"
TOKEN = "canary-token-7c2d91ab"
DSN_PASSWORD = "dsnCanary-88e1"
SECRETS = [PASSWORD, TOKEN, DSN_PASSWORD]

PIPELINE = """
oml_version: "0.1.0"
name: canary
steps:
  - id: probe
    component: testkit.probe
    mode: extract
    config: {connection: "@testdb", token: "${TESTDB_TOKEN}", fail: FAIL}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [probe]
    config: {path: probe.csv}
"""

ENV = {
    "TESTDB_PASSWORD": PASSWORD,
    "TESTDB_TOKEN": TOKEN,
    "TESTDB_DSN": f"postgresql://etl:{DSN_PASSWORD}@127.0.0.1:5432/app",
}


def forms(secret: str) -> set[bytes]:
    raw = secret.encode()
    return {
        raw,
        urllib.parse.quote(secret, safe="").encode(),
        urllib.parse.quote_plus(secret).encode(),
        base64.b64encode(raw).rstrip(b"="),
        base64.urlsafe_b64encode(raw).rstrip(b"="),
    }


def assert_clean(blobs: dict[str, bytes]) -> None:
    leaks = [
        (where, secret)
        for where, blob in blobs.items()
        for secret in SECRETS
        for form in forms(secret)
        if form in blob
    ]
    assert leaks == []


def everything(tmp_path: Path, proc_out: str, proc_err: str) -> dict[str, bytes]:
    blobs = {"stdout": proc_out.encode(), "stderr": proc_err.encode()}
    for path in (tmp_path / "logs").rglob("*"):
        if path.is_file():
            blobs[str(path)] = path.read_bytes()
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as z:
                    for name in z.namelist():
                        blobs[f"{path}!{name}"] = z.read(name)
    assert any(p.endswith(".jsonl") for p in blobs)  # the scan saw a session
    return blobs


@pytest.fixture
def project(tmp_path):
    write_pipeline(tmp_path, PROBE_CONNECTIONS, name="osiris_connections.yaml")
    return tmp_path


@pytest.mark.parametrize(
    ("fail", "args", "code"),
    [("false", [], 0), ("true", [], 1), ("false", ["--dry-run"], 0), ("true", ["--json"], 1)],
)
def test_no_canary_escapes(project, fail, args, code):
    write_pipeline(project, PIPELINE.replace("FAIL", fail))
    proc = osiris_cli("run", "pipeline.yaml", *args, cwd=project, env=ENV)
    assert proc.returncode == code, proc.stderr
    if "--dry-run" not in args:
        # the probe really printed the secrets; masking, not silence, kept them out
        stdout_txt = next(project.glob("logs/*/artifacts/stdout.txt")).read_text()
        assert "with password ***" in stdout_txt
    proc_bundle = osiris_cli("logs", "bundle", "last", cwd=project)
    assert proc_bundle.returncode == 0, proc_bundle.stderr
    assert_clean(everything(project, proc.stdout + proc_bundle.stdout, proc.stderr))


def test_no_canary_escapes_before_submit(project):
    # allow-list refusal: connection resolved with secrets, run never submitted
    write_pipeline(project, PIPELINE.replace("FAIL", "false"))
    (project / "osiris.yaml").write_text("runner:\n  network:\n    allow: [db.example.com]\n")
    proc = osiris_cli("run", "pipeline.yaml", cwd=project, env=ENV)
    assert proc.returncode == 2
    assert "which the network allow-list does not allow" in proc.stderr
    assert_clean(everything(project, proc.stdout, proc.stderr))


def test_no_canary_escapes_when_interrupted(project):
    text = (
        PIPELINE.replace("FAIL", "false")
        + """
  - id: nap
    component: testkit.sleeper
    mode: extract
    config: {seconds: 60, heartbeat: 0.5}
"""
    )
    write_pipeline(project, text)
    proc, seen = start_run(project, "start  nap", env=ENV)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    proc.stdout.close()
    assert proc.returncode == 130
    assert_clean(everything(project, "".join(seen) + out, err))


def test_short_secrets_are_masked_everywhere_with_a_warning(project):
    write_pipeline(project, PIPELINE.replace("FAIL", "false"))
    env = {**ENV, "TESTDB_PASSWORD": "pw123"}
    proc = osiris_cli("run", "pipeline.yaml", cwd=project, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.startswith(
        "warning: 1 secret value(s) shorter than 8 characters; osiris masks them wherever they "
        "appear, which can hide names and paths too\n"
    )
    stdout_txt = next(project.glob("logs/*/artifacts/stdout.txt")).read_text()
    assert "with password ***" in stdout_txt


@pytest.mark.parametrize(("fail", "code"), [("false", 0), ("true", 1)])
def test_no_canary_escapes_on_e2b(project, e2b_standin, fail, code):
    write_pipeline(project, PIPELINE.replace("FAIL", fail))
    proc = osiris_cli(
        "run", "pipeline.yaml", "--executor", "e2b", "--image", "osiris", cwd=project, env=ENV
    )
    assert proc.returncode == code, proc.stderr
    stdout_txt = next(project.glob("logs/*/artifacts/stdout.txt")).read_text()
    assert "with password ***" in stdout_txt
    proc_bundle = osiris_cli("logs", "bundle", "last", cwd=project)
    assert proc_bundle.returncode == 0, proc_bundle.stderr
    assert_clean(everything(project, proc.stdout + proc_bundle.stdout, proc.stderr))
    # the secrets travelled as sandbox env vars only
    record = e2b_standin.history[0]
    assert record.envs == {
        "TESTDB_PASSWORD": PASSWORD,
        "TESTDB_TOKEN": TOKEN,
        "TESTDB_DSN": ENV["TESTDB_DSN"],
    }
