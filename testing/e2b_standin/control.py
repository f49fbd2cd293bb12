"""The control-plane REST API: create, get, list, connect, set_timeout and kill sandboxes."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from testing.e2b_standin.web import Request, StartResponse, api_error, json_response, respond

if TYPE_CHECKING:
    from testing.e2b_standin.sandbox import Sandbox
    from testing.e2b_standin.standin import E2BStandin

ENVD_VERSION = "0.6.4"  # the lowest version with no SDK feature gate left (protocol doc 6.6)
DEFAULT_TIMEOUT = 300  # seconds, the API's default when the SDK sends none
CPU_COUNT = 2
MEMORY_MB = 512
DISK_SIZE_MB = 1024

_ERROR_MESSAGES = {
    401: "Invalid API key",
    429: "Rate limit exceeded, please try again later",
    500: "Failed to create sandbox: internal error",
    502: "Bad gateway",
    503: "Service temporarily unavailable",
    504: "Gateway timeout",
}

_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"/v2/sandboxes"), "create"),
    ("GET", re.compile(r"/v2/sandboxes"), "list"),
    ("GET", re.compile(r"/sandboxes"), "list"),
    ("GET", re.compile(r"/sandboxes/(?P<id>[^/]+)"), "get"),
    ("DELETE", re.compile(r"/sandboxes/(?P<id>[^/]+)"), "kill"),
    ("POST", re.compile(r"/sandboxes/(?P<id>[^/]+)/timeout"), "timeout"),
    ("POST", re.compile(r"/v2/sandboxes/(?P<id>[^/]+)/connect"), "connect"),
    ("POST", re.compile(r"/sandboxes/(?P<id>[^/]+)/connect"), "connect"),
]


def is_api_path(path: str) -> bool:
    return path.startswith(("/sandboxes", "/v2/sandboxes"))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class ControlPlane:
    def __init__(self, standin: E2BStandin) -> None:
        self._standin = standin
        self._creating = threading.Lock()  # the concurrency limit is checked and taken at once

    def __call__(self, request: Request, start_response: StartResponse) -> list[bytes]:
        if request.header("X-API-KEY") != self._standin.api_key:
            return api_error(start_response, 401, "Invalid API key")
        for method, pattern, name in _ROUTES:
            match = pattern.fullmatch(request.path)
            if match and method == request.method:
                handler: Callable[..., list[bytes]] = getattr(self, "_" + name)
                return handler(request, start_response, *match.groups())
        return api_error(start_response, 404, f"no route for {request.method} {request.path}")

    def _sandbox_or_404(
        self, sandbox_id: str, start_response: StartResponse
    ) -> Sandbox | list[bytes]:
        sandbox = self._standin.live_sandbox(sandbox_id)
        if sandbox is None:
            return api_error(
                start_response,
                404,
                f"sandbox \"{sandbox_id}\" doesn't exist or you don't have access to it",
            )
        return sandbox

    def _create(self, request: Request, start_response: StartResponse) -> list[bytes]:
        body = request.json()
        faults = self._standin.faults
        if faults.create_errors:
            status = faults.create_errors.pop(0)
            return api_error(start_response, status, _ERROR_MESSAGES.get(status, f"error {status}"))
        template = str(body.get("templateID", ""))
        if template not in self._standin.templates:
            return api_error(start_response, 404, f"template '{template}' not found")
        with self._creating:
            limit = faults.max_sandboxes
            if limit is not None and len(self._standin.sandbox_objects()) >= limit:
                faults.refused += 1
                # the real API's answer when a team's concurrent sandboxes are all in use
                return api_error(
                    start_response,
                    429,
                    f"you have reached the maximum number of concurrent E2B sandboxes ({limit}). "
                    "If you need more, please contact us at 'https://e2b.dev/docs/getting-help'",
                )
            sandbox = self._standin.new_sandbox(body)
        return json_response(start_response, 201, self._sandbox_body(sandbox))

    def _sandbox_body(self, sandbox: Sandbox) -> dict[str, Any]:
        return {
            "templateID": sandbox.record.template,
            "sandboxID": sandbox.id,
            "clientID": self._standin.client_id,
            "envdVersion": ENVD_VERSION,
            "envdAccessToken": sandbox.access_token,
            "domain": None,
        }

    def _detail(self, sandbox: Sandbox) -> dict[str, Any]:
        record = sandbox.record
        detail: dict[str, Any] = {
            **self._sandbox_body(sandbox),
            "startedAt": _iso(sandbox.started_at),
            "endAt": _iso(sandbox.end_at),
            "cpuCount": CPU_COUNT,
            "memoryMB": MEMORY_MB,
            "diskSizeMB": DISK_SIZE_MB,
            "state": "running",
            "metadata": record.metadata,
        }
        if "allow_internet_access" in record.request:
            detail["allowInternetAccess"] = record.request["allow_internet_access"]
        if "network" in record.request:
            detail["network"] = record.request["network"]
        return detail

    def _get(self, request: Request, start_response: StartResponse, sandbox_id: str) -> list[bytes]:
        found = self._sandbox_or_404(sandbox_id, start_response)
        if isinstance(found, list):
            return found
        return json_response(start_response, 200, self._detail(found))

    def _list(self, request: Request, start_response: StartResponse) -> list[bytes]:
        listed = []
        for sandbox in self._standin.sandbox_objects():
            detail = self._detail(sandbox)
            detail.pop("envdAccessToken")
            detail.pop("domain")
            listed.append(detail)
        return json_response(start_response, 200, listed)

    def _kill(
        self, request: Request, start_response: StartResponse, sandbox_id: str
    ) -> list[bytes]:
        found = self._sandbox_or_404(sandbox_id, start_response)
        if isinstance(found, list):
            return found
        self._standin.end_sandbox(found, "killed")
        return respond(start_response, 204)

    def _timeout(
        self, request: Request, start_response: StartResponse, sandbox_id: str
    ) -> list[bytes]:
        found = self._sandbox_or_404(sandbox_id, start_response)
        if isinstance(found, list):
            return found
        found.set_timeout(int(request.json().get("timeout", DEFAULT_TIMEOUT)))
        return respond(start_response, 204)

    def _connect(
        self, request: Request, start_response: StartResponse, sandbox_id: str
    ) -> list[bytes]:
        found = self._sandbox_or_404(sandbox_id, start_response)
        if isinstance(found, list):
            return found
        timeout = request.json().get("timeout")
        # Connecting never shortens a running sandbox's life.
        if timeout is not None and time.time() + int(timeout) > found.end_at:
            found.set_timeout(int(timeout))
        return json_response(start_response, 200, self._sandbox_body(found))
