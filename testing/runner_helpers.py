"""Drive any runner through a whole run, the way `osiris run` does, and read what it left."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from osiris.pipeline import compile_pipeline
from osiris.runners import PreparedRun, Runner, RunResult
from osiris.session import Masker, Session

# osiris_connections.yaml for the `testkit.probe` component: every secret an env reference
PROBE_CONNECTIONS = """
connections:
  testdb:
    main:
      default: true
      host: 127.0.0.1
      port: 5432
      user: etl
      password: ${TESTDB_PASSWORD}
      dsn: ${TESTDB_DSN}
"""

DEFAULT_RUN = {
    "limits": {"timeout_seconds": 60, "idle_timeout_seconds": 30, "memory_mb": None, "cpu": None},
    "network": {"allow": ["*"], "connect_timeout_seconds": 5.0},
}


@dataclass
class Outcome:
    result: RunResult
    session: Path

    def events(self) -> list[dict[str, Any]]:
        lines = (self.session / "events.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def names(self) -> list[str]:
        return [e["event"] for e in self.events()]

    def metrics(self) -> list[dict[str, Any]]:
        lines = (self.session / "metrics.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def session_json(self) -> dict[str, Any]:
        return json.loads((self.session / "session.json").read_text())


def write_pipeline(directory: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def run_pipeline(
    tmp_path: Path,
    runner: Runner,
    pipeline: Path,
    *,
    env: dict[str, str] | None = None,
    run_settings: dict[str, Any] | None = None,
    dry_run: bool = False,
    output_dir: Path | None = None,
) -> Outcome:
    """Compile `pipeline`, run it through `runner` into a fresh session under tmp_path/logs;
    with `output_dir`, the outputs are placed there too (as `osiris run` places them in the
    working directory)."""
    environ = dict(env or {})
    manifest = compile_pipeline(pipeline, environ=environ, run_settings=run_settings or DEFAULT_RUN)
    data = manifest.data
    names = {*data["env"]["required"], *data["env"]["optional"], *data["env"]["secret"]}
    inject = {n: environ[n] for n in names if n in environ}
    session = Session.create(
        tmp_path / "logs",
        pipeline_name=data["pipeline"]["name"],
        pipeline_file=str(pipeline),
        executor=runner.name,
        masker=Masker.from_manifest(data, inject),
    )
    session.write_artifact("manifest.json", manifest.to_json())
    session.emit("run_start", pipeline=data["pipeline"]["name"], executor=runner.name)
    with runner:
        result = runner.run(
            PreparedRun(manifest, pipeline.parent, inject, dry_run=dry_run, output_dir=output_dir),
            session,
        )
    session.finalize(result.status, result.exit_code, result.error)
    session.close()
    return Outcome(result, session.path)


def osiris_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real `osiris` command in a subprocess."""
    full_env = {**os.environ, "NO_PROXY": "127.0.0.1,localhost", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "osiris", *args],
        cwd=cwd,
        env=full_env,
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def start_run(
    cwd: Path, until: str, *, env: dict[str, str] | None = None, pipeline: str = "pipeline.yaml"
) -> tuple[subprocess.Popen[str], list[str]]:
    """Start a real `osiris run` and return once a stdout line contains `until`.

    Returns the process (stdout still open, for the caller to drain) and the lines read so far.
    """
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "osiris", "run", pipeline],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if until in line:
            break
    return proc, seen
