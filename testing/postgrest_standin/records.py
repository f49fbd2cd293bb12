"""What the stand-in remembers for tests (`RequestRecord`) and the faults tests queue (`Fault`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

REDACTED = "<redacted>"
SECRET_HEADERS = ("apikey", "authorization")


@dataclass
class RequestRecord:
    """One request as it arrived, with the key values blanked out."""

    method: str
    path: str  # decoded, e.g. /rest/v1/items
    query: str  # raw query string, with any apikey=... value replaced by <redacted>
    headers: dict[str, str]  # lower-cased names; apikey/authorization values are <redacted>
    body_size: int
    status: int | None = None  # the status answered; None when the connection was cut
    fault: str | None = None  # "status", "drop" or "delay" when a queued fault applied

    @property
    def params(self) -> list[tuple[str, str]]:
        """The decoded query parameters, in order."""
        return parse_qsl(self.query, keep_blank_values=True)

    @property
    def prefer(self) -> list[str]:
        """The Prefer values, split on commas, e.g. ["return=representation", "count=exact"]."""
        raw = self.headers.get("prefer", "")
        return [p.strip() for p in raw.split(",") if p.strip()]


@dataclass
class Fault:
    """One queued fault; `times` counts down as matching requests consume it.

    kind "status": answer `status` with a gateway-style body (never PostgREST JSON) and an
    optional Retry-After, without touching the database. kind "drop": cut the TCP connection
    after reading the request, before touching the database. kind "delay": sleep `seconds`,
    then serve the request normally (the write still happens if the client gave up).
    """

    kind: str
    times: int = 1
    method: str | None = None  # None matches every method
    path: str | None = None  # None matches every path; "items" matches /rest/v1/items
    status: int = 503
    retry_after: float | int | None = None
    body: bytes | None = None
    content_type: str | None = None
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is None:
            return True
        return path == self.path or path == "/rest/v1/" + self.path.lstrip("/")


class FaultQueue:
    """Thread-safe: concurrent requests never consume the same fault use twice."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        if fault.times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first queued fault matching this request, with one use consumed."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()


_FAULT_BODIES = {
    429: (b"Too Many Requests\n", "text/plain; charset=utf-8"),
    503: (
        b"<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n"
        b"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n"
        b"</body>\r\n</html>\r\n",
        "text/html",
    ),
    520: (b"error code: 520", "text/plain; charset=UTF-8"),
}


def fault_response(fault: Fault) -> tuple[bytes, list[tuple[str, str]]]:
    """The body and headers of a status fault, shaped like Supabase's edge answers them."""
    default_body, default_type = _FAULT_BODIES.get(
        fault.status,
        (f"<html><body><h1>{fault.status}</h1></body></html>\n".encode(), "text/html"),
    )
    body = default_body if fault.body is None else fault.body
    headers = [("Content-Type", fault.content_type or default_type)]
    if fault.retry_after is not None:
        headers.append(("Retry-After", str(fault.retry_after)))
    return body, headers


def redact_query(query: str) -> str:
    parts = []
    for part in query.split("&") if query else []:
        key, sep, _ = part.partition("=")
        parts.append(f"{key}={REDACTED}" if sep and key.lower() == "apikey" else part)
    return "&".join(parts)


@dataclass
class RequestLog:
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _records: list[RequestRecord] = field(default_factory=list)

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
