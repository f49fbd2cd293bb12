"""LocalRunner: the executor as a child process on this machine.

Isolation here is a process group, a per-run working directory inside the session and an
environment holding only what the manifest names (plus PATH, HOME, locale, TZ and proxies).
Wall-clock and idle timeouts are enforced here; memory and CPU by the executor itself. It is
not a sandbox: the child runs as the same user; see docs/runners.md.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from osiris.errors import RunnerError
from osiris.runners.base import PreparedRun, Runner
from osiris.runners.streaming import Item, follow

if TYPE_CHECKING:
    from osiris.runners.relay import ProgressRelay
    from osiris.session import Session

PASSTHROUGH_ENV = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "PYTHONPATH",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
# SIGINT, then SIGTERM, then SIGKILL, each with a short grace period
KILL_ESCALATION = ((signal.SIGINT, 2.0), (signal.SIGTERM, 2.0), (signal.SIGKILL, 1.0))


def child_environment(prepared: PreparedRun, parent: dict[str, str]) -> dict[str, str]:
    env = {k: parent[k] for k in PASSTHROUGH_ENV if k in parent}
    env.update(prepared.env)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


class LocalRunner(Runner):
    name = "local"

    def __init__(self, *, environ: dict[str, str] | None = None) -> None:
        self._parent_env = environ
        self._proc: subprocess.Popen[str] | None = None
        self._workdir: Path | None = None
        self._pid: int | None = None

    def _prepare(self, prepared: PreparedRun, session: Session) -> None:
        self._workdir = (session.path / "work").resolve()
        self._workdir.mkdir(parents=True, exist_ok=True)
        (self._workdir / "manifest.json").write_text(prepared.manifest.to_json(), encoding="utf-8")
        parent = dict(os.environ) if self._parent_env is None else self._parent_env
        self._env = child_environment(prepared, parent)

    def _command(self, prepared: PreparedRun) -> list[str]:
        assert self._workdir is not None
        return [
            sys.executable,
            "-m",
            "osiris",
            "exec",
            str(self._workdir / "manifest.json"),
            "--workdir",
            str(self._workdir),
            "--input-root",
            str(prepared.input_root),
        ]

    def _execute(self, prepared: PreparedRun, session: Session, relay: ProgressRelay) -> int:
        limits = prepared.limits
        try:
            self._proc = subprocess.Popen(
                self._command(prepared),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=self._env,
                cwd=self._workdir,
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                start_new_session=True,
            )
        except OSError as exc:
            raise RunnerError(f"could not start the executor: {exc}") from exc
        self._pid = self._proc.pid
        session.update(executor_pid=self._pid)
        lines: queue.Queue[Item] = queue.Queue()
        readers = [
            threading.Thread(target=_pump, args=(name, stream, lines), daemon=True)
            for name, stream in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr))
        ]
        for t in readers:
            t.start()
        follow(lines, relay, limits)
        for t in readers:
            t.join(timeout=5)
        code = self._proc.wait()
        self._kill_group(signal.SIGKILL)  # nothing the executor started outlives it
        return code

    def _kill_group(self, sig: signal.Signals) -> None:
        if self._pid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, sig)

    def _stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._kill_group(signal.SIGKILL)
            return
        for sig, grace in KILL_ESCALATION:
            self._kill_group(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=grace)
                break
        self._kill_group(signal.SIGKILL)

    def _collect(self, session: Session) -> list[str]:
        if self._workdir is None:
            return []
        produced = self._workdir / "outputs"
        collected = []
        if produced.is_dir():
            for path in sorted(p for p in produced.rglob("*") if p.is_file()):
                rel = path.relative_to(produced)
                if rel.name.startswith(".") and rel.name.endswith(".tmp"):
                    continue  # an atomic write the run did not finish
                target = session.outputs / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(path), target)
                collected.append(rel.as_posix())
        return collected

    def _cleanup(self) -> dict[str, Any]:
        self._stop()
        if self._proc is not None:
            for stream in (self._proc.stdout, self._proc.stderr):
                if stream is not None:
                    stream.close()
        info: dict[str, Any] = {"pid": self._pid}
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            info["removed"] = not self._workdir.exists()
        return info


def _pump(name: str, stream: IO[str] | None, out: queue.Queue[Item]) -> None:
    assert stream is not None
    for line in stream:
        out.put((name, line.rstrip("\n")))
    out.put((name, None))
