"""A PostHog stand-in for the endpoint posthog.extractor uses: the HogQL query API.

`POST /api/projects/<id>/query/` with `{"query": {"kind": "HogQLQuery", "query": "..."}}` and
`Authorization: Bearer <personal key>` answers `{"results": [[...]], "columns": [...],
"types": [...]}` as PostHog does, running the query for real: in DuckDB, over `events` (uuid,
event, timestamp, distinct_id, person_id, properties) and `persons` (id, created_at,
is_identified, properties). HogQL's string literals (backslash escapes) are rewritten to
DuckDB's, and `toDateTime('...')` parses the text with its microseconds, as PostHog's
DateTime64 columns compare. Timestamps come back as ISO text with `Z`, properties as JSON text.

Only the HogQL the extractor sends is promised to work (SELECT ... FROM ... WHERE ... ORDER BY
... LIMIT n); `faults[k]` = "429" | "503" | "drop" answers the k-th request (1-based) that way.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
from collections.abc import Iterator
from typing import Any

from testing.wsgi_server import DropConnection, WSGIServer

__all__ = ["PostHogApi"]

_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _duck_literal(match: re.Match[str]) -> str:
    text = re.sub(r"\\(.)", r"\1", match.group(1))
    return "'" + text.replace("'", "''") + "'"


class PostHogApi:
    def __init__(
        self,
        events: list[dict[str, Any]],
        persons: list[dict[str, Any]] | None = None,
        *,
        key: str,
        project: int = 4242,
    ) -> None:
        import duckdb

        self.key = key
        self.project = project
        self.faults: dict[int, str] = {}
        self.queries: list[str] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._db = duckdb.connect()
        self._db.execute("SET TimeZone = 'UTC'")
        self._db.execute("CREATE MACRO toDateTime(s) AS CAST(s AS TIMESTAMP)")
        self._db.execute(
            "CREATE TABLE events (uuid VARCHAR, event VARCHAR, timestamp TIMESTAMP, "
            "distinct_id VARCHAR, person_id VARCHAR, properties VARCHAR)"
        )
        self._db.execute(
            "CREATE TABLE persons (id VARCHAR, created_at TIMESTAMP, is_identified BOOLEAN, "
            "properties VARCHAR)"
        )
        self.add_events(events)
        for p in persons or []:
            self._db.execute(
                "INSERT INTO persons VALUES (?, ?, ?, ?)",
                [p["id"], _naive(p["created_at"]), p["is_identified"], json.dumps(p["properties"])],
            )
        self._server = WSGIServer(self._app)

    def add_events(self, events: list[dict[str, Any]]) -> None:
        with self._lock:
            for e in events:
                self._db.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)",
                    [e["uuid"], e["event"], _naive(e["timestamp"]), e["distinct_id"],
                     e["person_id"], json.dumps(e["properties"])],
                )  # fmt: skip

    def __enter__(self) -> PostHogApi:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()
        self._db.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        with self._lock:
            self.requests += 1
            fault = self.faults.pop(self.requests, None)
        if fault == "429":
            return _send(start_response, "429 Too Many Requests",
                         {"type": "throttled_error", "detail": "Request was throttled."},
                         [("Retry-After", "0")])  # fmt: skip
        if fault == "503":
            return _send(start_response, "503 Service Unavailable", {"detail": "busy"})
        if fault == "drop":
            return _drop(start_response)
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {self.key}":
            return _send(start_response, "401 Unauthorized",
                         {"type": "authentication_error", "code": "authentication_failed",
                          "detail": "Personal API key found in request is invalid."})  # fmt: skip
        path = f"/api/projects/{self.project}/query/"
        if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != path:
            return _send(start_response, "404 Not Found", {"detail": "Not found."})
        try:
            query = json.loads(raw)["query"]
            assert query["kind"] == "HogQLQuery"
            hogql = query["query"]
        except (ValueError, KeyError, TypeError, AssertionError):
            return _send(start_response, "400 Bad Request", {"detail": "bad query"})
        with self._lock:
            self.queries.append(hogql)
            try:
                cursor = self._db.execute(_LITERAL.sub(_duck_literal, hogql))
                rows = cursor.fetchall()
                columns = [d[0] for d in cursor.description]
            except Exception as exc:
                return _send(start_response, "400 Bad Request",
                             {"type": "validation_error", "detail": str(exc)})  # fmt: skip
        results = [[_value(v) for v in row] for row in rows]
        return _send(start_response, "200 OK",
                     {"results": results, "columns": columns, "hasMore": False})  # fmt: skip


def _naive(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def _send(
    start_response: Any, status: str, body: Any, extra: list[tuple[str, str]] | None = None
) -> Iterator[bytes]:
    data = json.dumps(body).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(data))), *(extra or [])],
    )
    return iter([data])


def _drop(start_response: Any) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "999")])
    yield b'{"results": ['
    raise DropConnection
