"""`E2BStandin`: the server object tests start, point the SDK at, and inspect."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from e2b.envd.filesystem.filesystem_connect import FilesystemWSGIApplication
from e2b.envd.process.process_connect import ProcessWSGIApplication

from testing.e2b_standin.control import DEFAULT_TIMEOUT, ControlPlane, is_api_path
from testing.e2b_standin.filesystem import FilesystemService, files_endpoint
from testing.e2b_standin.process import ProcessService
from testing.e2b_standin.records import Faults, SandboxRecord
from testing.e2b_standin.sandbox import Sandbox
from testing.e2b_standin.web import Request, StartResponse, api_error, respond
from testing.wsgi_server import WSGIServer

DEFAULT_API_KEY = "e2b_standin_0123456789abcdef"


def _new_id(length: int = 20) -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(length))


class E2BStandin:
    """A local E2B: control-plane REST, envd Connect RPC, `/files` and `/health` on one port.

    Use as a context manager; leaving it kills every sandbox still alive. One port serves both
    the API and every sandbox's envd (routed by the `E2b-Sandbox-Id` header), so `api_url` and
    `sandbox_url` are the same URL.

    templates: names `Sandbox.create(template=...)` accepts; any other gets the API's 404.
    keep_dirs: leave each sandbox directory on disk after it ends (for debugging a test).
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        templates: Iterable[str] = ("base",),
        keep_dirs: bool = False,
    ) -> None:
        self.api_key = api_key
        self.templates: set[str] = set(templates)
        self.faults = Faults()
        self.client_id = _new_id(8)
        self._keep_dirs = keep_dirs
        self._lock = threading.Lock()
        self._live: dict[str, Sandbox] = {}
        self._history: list[SandboxRecord] = []
        self._base = Path(tempfile.mkdtemp(prefix="e2b-standin-"))
        self._control = ControlPlane(self)
        self._process_app = ProcessWSGIApplication(ProcessService(self._lookup), compressions=[])
        self._filesystem_app = FilesystemWSGIApplication(
            FilesystemService(self._lookup), compressions=[]
        )
        self._server = WSGIServer(self)
        self._server.start()

    # -- what tests use ------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def sandbox_url(self) -> str:
        return self.api_url

    def env(self) -> dict[str, str]:
        """Env vars that point the unmodified SDK at this stand-in (leave E2B_DEBUG unset)."""
        return {
            "E2B_API_KEY": self.api_key,
            "E2B_API_URL": self.api_url,
            "E2B_SANDBOX_URL": self.sandbox_url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    @property
    def sandboxes(self) -> dict[str, SandboxRecord]:
        """The sandboxes alive now, by id."""
        with self._lock:
            return {sid: sb.record for sid, sb in self._live.items() if sb.alive}

    @property
    def history(self) -> list[SandboxRecord]:
        """Every sandbox ever created, oldest first, including the ones still alive."""
        with self._lock:
            return list(self._history)

    def crash(self, sandbox_id: str) -> None:
        """Make a sandbox die now, as if its VM was lost (end_reason "died")."""
        sandbox = self.live_sandbox(sandbox_id)
        if sandbox is None:
            raise KeyError(f"no live sandbox {sandbox_id}")
        self.end_sandbox(sandbox, "died")

    def close(self) -> None:
        with self._lock:
            alive = list(self._live.values())
        for sandbox in alive:
            self.end_sandbox(sandbox, "shutdown")
        self._server.close()
        if not self._keep_dirs:
            shutil.rmtree(self._base, ignore_errors=True)

    def __enter__(self) -> E2BStandin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- used by the handlers ------------------------------------------------------------------

    def new_sandbox(self, body: dict[str, Any]) -> Sandbox:
        sandbox_id = _new_id()
        root = self._base / sandbox_id
        record = SandboxRecord(
            sandbox_id=sandbox_id,
            template=str(body.get("templateID", "")),
            metadata=dict(body.get("metadata") or {}),
            envs=dict(body.get("envVars") or {}),
            timeout=int(body.get("timeout", DEFAULT_TIMEOUT)),
            request=body,
            root=root,
            created_at=time.time(),
        )
        sandbox = Sandbox(record, secrets.token_hex(16), self.faults, keep_dir=self._keep_dirs)
        with self._lock:
            self._live[sandbox_id] = sandbox
            self._history.append(record)
        return sandbox

    def live_sandbox(self, sandbox_id: str) -> Sandbox | None:
        with self._lock:
            sandbox = self._live.get(sandbox_id)
        if sandbox is not None and not sandbox.alive:
            self._forget(sandbox)
            return None
        return sandbox

    def sandbox_objects(self) -> list[Sandbox]:
        with self._lock:
            candidates = list(self._live.values())
        return [sb for sb in candidates if self.live_sandbox(sb.id) is not None]

    def end_sandbox(self, sandbox: Sandbox, reason: str) -> None:
        sandbox.terminate(reason)
        self._forget(sandbox)

    def _forget(self, sandbox: Sandbox) -> None:
        with self._lock:
            if self._live.get(sandbox.id) is sandbox:
                del self._live[sandbox.id]

    def _lookup(self, ctx: RequestContext[Any, Any]) -> Sandbox:
        sandbox_id = ctx.request_headers.get("e2b-sandbox-id", "")
        sandbox = self.live_sandbox(sandbox_id)
        if sandbox is None:
            raise ConnectError(Code.UNAVAILABLE, f"The sandbox {sandbox_id} was not found")
        return sandbox

    # -- routing -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path
        if is_api_path(path):
            return self._control(request, start_response)
        if path in ("/health", "/files") or path.startswith(("/process.", "/filesystem.")):
            return self._envd(request, start_response)
        return respond(start_response, 404, b"404 page not found\n", "text/plain; charset=utf-8")

    def _envd(self, request: Request, start_response: StartResponse) -> Iterable[bytes]:
        sandbox_id = request.header("E2b-Sandbox-Id")
        sandbox = self.live_sandbox(sandbox_id)
        if sandbox is None:
            # What E2B's edge proxy answers for a sandbox that is gone; the SDK keys on the
            # "was not found" text to raise SandboxNotRunningException.
            return api_error(
                start_response, 502, f"The sandbox {sandbox_id} was not found", sandboxId=sandbox_id
            )
        if request.header("X-Access-Token") != sandbox.access_token:
            return api_error(start_response, 401, "invalid access token")
        if request.path == "/health":
            return respond(start_response, 204)
        if request.path == "/files":
            return files_endpoint(sandbox, request, start_response)
        if request.path.startswith("/process."):
            return self._process_app(request.environ, start_response)
        return self._filesystem_app(request.environ, start_response)
