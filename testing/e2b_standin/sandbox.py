"""One stand-in sandbox: a host directory for its "/", its processes and its lifetime.

Path mapping: the sandbox path `/a/b` is `<root>/a/b` on the host and a relative path `a/b` is
`<root>/home/user/a/b` (envd resolves relative paths against the user's home). `..` cannot climb
above `<root>`. Commands run on the host, so what they see (`$HOME`, `$PWD`, `os.getcwd()`) are
host paths; a command line that names absolute sandbox paths such as `/home/user/x` will not find
them, while relative paths and `$HOME/x` work both here and in a real sandbox.
"""

from __future__ import annotations

import os
import posixpath
import shlex
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from testing.e2b_standin.records import Faults, SandboxRecord

if TYPE_CHECKING:
    from testing.e2b_standin.process import RunningProcess

HOME = "/home/user"
USER = "user"


def _login_profile() -> str:
    # `bash -l` runs /etc/profile, which resets PATH; a real template puts its tools back on PATH
    # in the user's profile, and so does this one: the stand-in interpreter's bin dir first (so
    # `python -m osiris` finds the package installed there), then the stand-in's own PATH.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
    return f"# written by the E2B stand-in, like a template's\nexport PATH={shlex.quote(path)}\n"


class Sandbox:
    """A live sandbox. Thread-safe; `terminate()` is idempotent."""

    def __init__(
        self, record: SandboxRecord, access_token: str, faults: Faults, *, keep_dir: bool
    ) -> None:
        self.record = record
        self.id = record.sandbox_id
        self.root = record.root
        self.access_token = access_token
        self.faults = faults
        self.started_at = time.time()
        self.end_at = self.started_at + record.timeout
        self.alive = True
        self._keep_dir = keep_dir
        self._lock = threading.RLock()
        self._processes: dict[int, RunningProcess] = {}
        self._timer: threading.Timer | None = None
        for sub in ("home/user", "tmp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "home/user/.profile").write_text(_login_profile())
        self.set_timeout(record.timeout)

    # -- paths ---------------------------------------------------------------------------------

    def sandbox_path(self, path: str) -> str:
        """The normalised absolute sandbox path for a path as the SDK sent it."""
        return posixpath.normpath(posixpath.join(HOME, path or "."))

    def host_path(self, path: str) -> Path:
        return self.root / self.sandbox_path(path).lstrip("/")

    def to_sandbox(self, host: Path) -> str:
        return "/" + host.relative_to(self.root).as_posix() if host != self.root else "/"

    # -- environment ---------------------------------------------------------------------------

    def command_env(self, envs: dict[str, str]) -> dict[str, str]:
        """What a command sees: a login-like base, the sandbox envs, then the command's envs.

        Nothing of the stand-in's own environment leaks in except PATH, so secrets set in the
        test process reach a command only when the SDK sends them, as with a real sandbox.
        """
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(self.host_path(HOME)),
            "USER": USER,
            "LOGNAME": USER,
            "SHELL": "/bin/bash",
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.host_path("/tmp")),
            "E2B_SANDBOX": "true",
            "E2B_SANDBOX_ID": self.id,
        }
        env.update(self.record.envs)
        env.update(envs)
        return env

    # -- processes -----------------------------------------------------------------------------

    def add_process(self, proc: RunningProcess) -> None:
        with self._lock:
            if not self.alive:
                proc.kill()
                return
            self._processes[proc.pid] = proc

    def forget_process(self, pid: int) -> None:
        with self._lock:
            self._processes.pop(pid, None)

    def process(self, pid: int) -> RunningProcess | None:
        with self._lock:
            return self._processes.get(pid)

    def processes(self) -> list[RunningProcess]:
        with self._lock:
            return list(self._processes.values())

    # -- lifetime ------------------------------------------------------------------------------

    def set_timeout(self, seconds: float) -> None:
        with self._lock:
            if not self.alive:
                return
            if self._timer is not None:
                self._timer.cancel()
            self.end_at = time.time() + seconds
            self._timer = threading.Timer(seconds, self.terminate, args=("timeout",))
            self._timer.daemon = True
            self._timer.start()

    def terminate(self, reason: str) -> bool:
        """Kill every process, end their streams as a lost sandbox's, remove the directory.

        Returns False when the sandbox was already gone.
        """
        with self._lock:
            if not self.alive:
                return False
            self.alive = False
            if self._timer is not None and threading.current_thread() is not self._timer:
                self._timer.cancel()
            procs = list(self._processes.values())
            self.record.killed = True
            self.record.killed_at = time.time()
            self.record.end_reason = reason
        for proc in procs:
            proc.sandbox_gone()
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait_done(timeout=5)
        if not self._keep_dir:
            shutil.rmtree(self.root, ignore_errors=True)
        return True
