"""Request parsing and response helpers shared by the stand-in's plain HTTP handlers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

StartResponse = Callable[..., Any]

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


@dataclass
class Request:
    environ: dict[str, Any]

    @property
    def method(self) -> str:
        return str(self.environ["REQUEST_METHOD"])

    @property
    def path(self) -> str:
        return str(self.environ["PATH_INFO"])

    def header(self, name: str, default: str = "") -> str:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        return str(self.environ.get(key, default))

    def query(self, name: str) -> str | None:
        values = parse_qs(self.environ.get("QUERY_STRING", ""), keep_blank_values=True).get(name)
        return values[0] if values else None

    def body(self) -> bytes:
        return bytes(self.environ["wsgi.input"].read())

    def json(self) -> Any:
        raw = self.body()
        return json.loads(raw) if raw.strip() else {}


def respond(
    start_response: StartResponse,
    status: int,
    body: bytes = b"",
    content_type: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    all_headers = list(headers)
    if content_type:
        all_headers.append(("Content-Type", content_type))
    all_headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {_REASONS.get(status, 'Unknown')}", all_headers)
    return [body]


def json_response(
    start_response: StartResponse,
    status: int,
    payload: Any,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    body = json.dumps(payload).encode()
    return respond(start_response, status, body, "application/json", headers)


def api_error(
    start_response: StartResponse,
    status: int,
    message: str,
    headers: Iterable[tuple[str, str]] = (),
    **extra: Any,
) -> list[bytes]:
    """The error body both the REST API and envd send: `{"code": <int>, "message": ...}`."""
    return json_response(
        start_response, status, {"code": status, "message": message, **extra}, headers
    )
