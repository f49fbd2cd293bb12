"""LocalRunner: the executor as a child process on this machine.

Isolation here is a process group, a per-run working directory inside the session and an
environment holding only what the manifest names (plus PATH, HOME, locale, TZ and proxies).
Wall-clock and idle timeouts are enforced here; memory and CPU by the executor itself. It is
not a sandbox: the child runs as the same user; see docs/runners.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
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


def child_environment(prepared: PreparedRun | None, parent: Mapping[str, str]) -> dict[str, str]:
    """The executor's environment: a few of the parent's variables plus the manifest's."""
    env = {k: parent[k] for k in PASSTHROUGH_ENV if k in parent}
    if prepared is not None:
        env.update(prepared.env)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _spawn(
    exec_args: list[str], *, env: dict[str, str], stdin: int, cwd: Path | None = None
) -> subprocess.Popen[str]:
    """Start `osiris exec ...` in a process group of its own, output piped line by line."""
    return subprocess.Popen(
        [sys.executable, "-m", "osiris", "exec", *exec_args],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        text=True,
        encoding="utf-8",
        errors="replace",
        bufsize=1,
        start_new_session=True,
    )


def _kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class WarmExecutor:
    """An executor started before `osiris run` has loaded its config and compiled the pipeline.

    Starting Python and importing pyarrow and the database drivers takes a few hundred
    milliseconds; `osiris exec --stdin` does that on another core while the CLI works, and the
    LocalRunner then sends it the run (manifest path, directories, and the manifest's
    environment variables, secrets included) over its stdin pipe. Its own environment is only
    the pass-through variables. If the run does not go to a LocalRunner after all (another
    executor, a compile error, Ctrl-C), `discard` closes its stdin and it exits.
    """

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self._taken = False

    @classmethod
    def start(cls, pipeline: Path, environ: Mapping[str, str] | None = None) -> WarmExecutor | None:
        """Start one that preloads what `pipeline` needs; None if it cannot start (the run
        then starts its executor the usual way)."""
        env = os.environ if environ is None else environ
        try:
            proc = _spawn(
                ["--stdin", f"--preload={pipeline.resolve()}"],
                env=child_environment(None, env),
                stdin=subprocess.PIPE,
            )
        except OSError:
            return None
        return cls(proc)

    def hand_over(self, request: dict[str, Any]) -> subprocess.Popen[str]:
        """Send the run; the process is the caller's from now on. OSError if it already died."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.close()
        self._taken = True
        return self.proc

    def discard(self) -> None:
        """End it unless it was handed over (idempotent)."""
        if self._taken:
            return
        self._taken = True
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        _kill_group(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)


class LocalRunner(Runner):
    name = "local"

    def __init__(
        self, *, environ: dict[str, str] | None = None, warm: WarmExecutor | None = None
    ) -> None:
        """`warm`: an executor the caller started early; the run goes to it rather than to a
        new process (and it is discarded if the run never starts)."""
        self._parent_env = environ
        self._proc: subprocess.Popen[str] | None = None
        self._workdir: Path | None = None
        self._manifest: Path | None = None
        self._pid: int | None = None
        self._warm = warm

    def _prepare(self, prepared: PreparedRun, session: Session) -> None:
        self._workdir = (session.path / "work").resolve()
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._manifest = self._workdir / "manifest.json"
        self._manifest.write_text(prepared.manifest.to_json(), encoding="utf-8")
        for rel in prepared.seed_files():
            assert prepared.output_dir is not None
            source, target = prepared.output_dir / rel, self._workdir / "outputs" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            # a link costs nothing: the writer copies before it appends, so the original stays
            # as it is until the run ends and places the result
            try:
                os.link(source, target)
            except OSError:
                shutil.copyfile(source, target)

    def _execute(self, prepared: PreparedRun, session: Session, relay: ProgressRelay) -> int:
        limits = prepared.limits
        self._proc = self._warm_process(prepared) or self._start(prepared)
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

    def _start(self, prepared: PreparedRun) -> subprocess.Popen[str]:
        assert self._workdir is not None and self._manifest is not None
        parent = os.environ if self._parent_env is None else self._parent_env
        args = [str(self._manifest), "--workdir", str(self._workdir)]
        args += ["--input-root", str(prepared.input_root)]
        try:
            return _spawn(
                args,
                env=child_environment(prepared, parent),
                stdin=subprocess.DEVNULL,
                cwd=self._workdir,
            )
        except OSError as exc:
            raise RunnerError(f"could not start the executor: {exc}") from exc

    def _warm_process(self, prepared: PreparedRun) -> subprocess.Popen[str] | None:
        warm, self._warm = self._warm, None
        if warm is None:
            return None
        assert self._workdir is not None and self._manifest is not None
        if warm.proc.poll() is not None:
            warm.discard()
            return None  # it died while waiting (killed, out of memory): start afresh
        request = {
            "manifest": str(self._manifest),
            "workdir": str(self._workdir),
            "input_root": str(prepared.input_root),
            "env": prepared.env,
        }
        try:
            return warm.hand_over(request)
        except OSError:
            warm.discard()
            return None

    def _kill_group(self, sig: signal.Signals) -> None:
        if self._pid is not None:
            _kill_group(self._pid, sig)

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

    def close(self) -> None:
        warm, self._warm = self._warm, None
        if warm is not None:  # the run never started (a dry run, an error before it)
            warm.discard()
        super().close()


def _pump(name: str, stream: IO[str] | None, out: queue.Queue[Item]) -> None:
    assert stream is not None
    for line in stream:
        out.put((name, line.rstrip("\n")))
    out.put((name, None))
