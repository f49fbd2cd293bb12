"""A JSON HTTP API with every pagination style the REST extractor speaks, for tests.

`RestApi(records)` serves `records` (a list of dicts) on 127.0.0.1 under
`/v1/<style>/items`, style one of:

- `next_link`:   {"data": [...], "next": "/v1/next_link/items?after=N" | null}
- `link_header`: a bare list, with `Link: <...?after=N>; rel="next"` while there is more
- `cursor`:      {"items": [...], "next_cursor": "c<N>" | null, "has_more": bool}
                 (the cursor comes back as ?cursor=c<N>)
- `offset`:      {"results": [...], "total": N} for ?offset=&limit=
- `page`:        {"results": [...], "total": N} for ?page=&per_page= (pages from 1)

Page size: `limit` / `per_page` when sent, else `page_size`. Auth: with `token` set, a request
must carry `Authorization: Bearer <token>`, or `X-API-Key: <token>`, or `?api_key=<token>`.
Faults, each consumed once, keyed by the 1-based number of the request that gets it:
`faults[n] = "429" | "503" | "drop" | "bad_json" | ("slow", seconds)`. `requests` records
every request (path, query, headers).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

from testing.wsgi_server import DropConnection, WSGIServer

__all__ = ["RestApi"]


class RestApi:
    def __init__(
        self, records: list[dict[str, Any]], *, page_size: int = 10, token: str | None = None
    ) -> None:
        self.records = records
        self.page_size = page_size
        self.token = token
        self.faults: dict[int, Any] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = WSGIServer(self._app)

    def __enter__(self) -> RestApi:
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/v1"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        with self._lock:
            self.requests.append({"path": environ["PATH_INFO"], "query": query, "headers": headers})
            fault = self.faults.pop(len(self.requests), None)
        if fault == "429":
            return self._send(start_response, "429 Too Many Requests", {"error": "slow down"},
                              [("Retry-After", "0")])  # fmt: skip
        if fault == "503":
            return self._send(start_response, "503 Service Unavailable", {"error": "busy"})
        if fault == "drop":
            return self._drop(start_response)
        if isinstance(fault, tuple) and fault[0] == "slow":
            time.sleep(fault[1])
        if self.token is not None and self.token not in (
            headers.get("authorization", "").removeprefix("Bearer "),
            headers.get("x-api-key"),
            query.get("api_key"),
        ):
            return self._send(start_response, "401 Unauthorized", {"error": "bad token"})
        parts = environ["PATH_INFO"].strip("/").split("/")
        if len(parts) != 3 or parts[0] != "v1" or parts[2] != "items":
            return self._send(start_response, "404 Not Found", {"error": "no such resource"})
        style = parts[1]
        if fault == "bad_json":
            start_response("200 OK", [("Content-Type", "application/json")])
            return iter([b'{"data": [1, 2'])
        return self._page(style, query, start_response)

    def _page(self, style: str, query: dict[str, str], start_response: Any) -> Iterator[bytes]:
        n = len(self.records)
        size = int(query.get("limit") or query.get("per_page") or self.page_size)
        base = f"/v1/{style}/items"
        if style in ("next_link", "link_header"):
            start = int(query.get("after", 0))
            rows = self.records[start : start + size]
            nxt = f"{base}?after={start + size}" if start + size < n else None
            if style == "next_link":
                return self._send(start_response, "200 OK", {"data": rows, "next": nxt})
            link = [("Link", f'<{self.url[:-3]}{nxt}>; rel="next"')] if nxt else []
            return self._send(start_response, "200 OK", rows, link)
        if style == "cursor":
            start = int(query.get("cursor", "c0")[1:])
            rows = self.records[start : start + size]
            more = start + size < n
            body = {"items": rows, "next_cursor": f"c{start + size}" if more else None,
                    "has_more": more}  # fmt: skip
            return self._send(start_response, "200 OK", body)
        if style == "offset":
            start = int(query.get("offset", 0))
        elif style == "page":
            start = (int(query.get("page", 1)) - 1) * size
        else:
            return self._send(start_response, "404 Not Found", {"error": "no such style"})
        rows = self.records[start : start + size]
        return self._send(start_response, "200 OK", {"results": rows, "total": n})

    @staticmethod
    def _send(
        start_response: Any, status: str, body: Any, extra: list[tuple[str, str]] | None = None
    ) -> Iterator[bytes]:
        data = json.dumps(body).encode()
        start_response(
            status,
            [("Content-Type", "application/json"), ("Content-Length", str(len(data))),
             *(extra or [])],
        )  # fmt: skip
        return iter([data])

    @staticmethod
    def _drop(start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "999")])
        yield b'{"data": ['
        raise DropConnection
