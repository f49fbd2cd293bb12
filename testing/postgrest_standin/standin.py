"""`PostgrestStandin`: Supabase's REST surface (gateway + PostgREST) over a real PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterable
from http import HTTPStatus
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from testing.postgrest_standin import catalog, handlers, meta
from testing.postgrest_standin.database import Database
from testing.postgrest_standin.errors import ApiError
from testing.postgrest_standin.gateway import DEFAULT_KEY, check_keys, negotiate_schema
from testing.postgrest_standin.grammar import parse_query
from testing.postgrest_standin.handlers import Context, Reply
from testing.postgrest_standin.prefer import parse_prefer
from testing.postgrest_standin.records import (
    REDACTED,
    SECRET_HEADERS,
    Fault,
    FaultQueue,
    RequestLog,
    RequestRecord,
    fault_response,
    redact_query,
)
from testing.wsgi_server import DropConnection, WSGIServer

__all__ = ["DEFAULT_KEY", "PostgrestStandin", "postgres_dsn"]

REST = "/rest/v1"
_HEALTH = {
    "version": "v2.170.0",
    "name": "GoTrue",
    "description": "GoTrue is a user registration and authentication API",
}


class PostgrestStandin:
    """A local Supabase project URL whose `/rest/v1` is PostgREST over the given database.

    dsn: a libpq connection string or URI for the database to serve.
    key: the only key the gateway accepts, in `apikey` (header or query) and, when present,
        `Authorization: Bearer`.
    schemas: the exposed schemas; the first is the default, any other profile gets PGRST106.
    max_rows: Supabase's "Max rows" (db-max-rows), 1000 by default; None for no cap.
    safeupdate: answer PATCH/DELETE without filters with 400 21000, as pg-safeupdate makes
        hosted Supabase do.
    postgrest_version: the PostgREST (major, minor) whose OpenAPI document to imitate; from
        14.8 on, integer formats are "int32"/"int64" instead of the type name.
    timezone: the session TimeZone (Supabase databases run in UTC).

    Starts serving on a free 127.0.0.1 port at once; use as a context manager.
    """

    def __init__(
        self,
        dsn: str,
        *,
        key: str = DEFAULT_KEY,
        schemas: Iterable[str] = ("public",),
        max_rows: int | None = 1000,
        safeupdate: bool = True,
        postgrest_version: tuple[int, int] = (14, 17),
        timezone: str = "UTC",
    ) -> None:
        self.dsn = dsn
        self.key = key
        self.schemas = tuple(schemas)
        if not self.schemas:
            raise ValueError("at least one schema must be exposed")
        self.max_rows = max_rows
        self.safeupdate = safeupdate
        self.postgrest_version = postgrest_version
        self.timezone = timezone
        self.faults = FaultQueue()
        self._log = RequestLog()
        self._db = Database(dsn, timezone)
        self._server = WSGIServer(self)
        self._server.start()

    # -- what tests use ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The Supabase project URL, e.g. http://127.0.0.1:PORT (pass it to create_client)."""
        return f"http://127.0.0.1:{self._server.port}"

    @property
    def rest_url(self) -> str:
        """`url + "/rest/v1"`, the base URL for `postgrest.SyncPostgrestClient`."""
        return self.url + REST

    def client_headers(self) -> dict[str, str]:
        """The headers supabase-py sends: `apikey` and `Authorization: Bearer <key>`."""
        return {"apikey": self.key, "Authorization": f"Bearer {self.key}"}

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far, oldest first (a copy)."""
        return self._log.snapshot()

    def clear_requests(self) -> None:
        self._log.clear()

    def fail_next(
        self,
        status: int = 503,
        *,
        times: int = 1,
        method: str | None = None,
        path: str | None = None,
        retry_after: float | int | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ) -> Fault:
        """Answer the next `times` matching requests with `status`, without touching the DB.

        The body is what Supabase's edge sends (text for 429 and 520, nginx HTML for 503), not
        PostgREST JSON; pass `body`/`content_type` to change it. `retry_after` adds Retry-After.
        """
        fault = Fault("status", times, method, path, status, retry_after, body, content_type)
        return self.faults.add(fault)

    def drop_next(
        self, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> Fault:
        """Cut the TCP connection of the next `times` matching requests before any DB work."""
        return self.faults.add(Fault("drop", times, method, path))

    def delay_next(
        self, seconds: float, *, times: int = 1, method: str | None = None, path: str | None = None
    ) -> Fault:
        """Wait `seconds` before serving the next `times` matching requests (then serve them)."""
        return self.faults.add(Fault("delay", times, method, path, seconds=seconds))

    def clear_faults(self) -> None:
        self.faults.clear()

    def close(self) -> None:
        self._server.close()
        self._db.close()

    def __enter__(self) -> PostgrestStandin:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- WSGI ----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ["PATH_INFO"]
        body = environ["wsgi.input"].read() if method not in ("GET", "HEAD") else b""
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if key in environ:
                headers[key.replace("_", "-").lower()] = str(environ[key])
        record = RequestRecord(
            method,
            path,
            redact_query(environ.get("QUERY_STRING", "")),
            {k: REDACTED if k in SECRET_HEADERS else v for k, v in headers.items()},
            len(body),
        )
        self._log.add(record)
        fault = self.faults.take(method, path)
        reply: Reply | None = None
        if fault is not None:
            record.fault = fault.kind
            if fault.kind == "drop":
                raise DropConnection()
            if fault.kind == "delay":
                time.sleep(fault.seconds)
            else:
                payload, fault_headers = fault_response(fault)
                reply = Reply(fault.status, fault_headers, payload)
        if reply is None:
            pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            try:
                reply = self._route(method, path, headers, pairs, body)
            except ApiError as err:
                reply = handlers.error_reply(err)
        record.status = reply.status
        try:
            reason = HTTPStatus(reply.status).phrase
        except ValueError:
            reason = "Unknown Error"
        out_headers = list(reply.headers)
        if not any(name.lower() == "content-length" for name, _ in out_headers):
            out_headers.append(("Content-Length", str(len(reply.body))))
        start_response(f"{reply.status} {reason}", out_headers)
        return [b"" if method == "HEAD" else reply.body]

    def _route(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        pairs: list[tuple[str, str]],
        body: bytes,
    ) -> Reply:
        if path in ("/auth/v1/health", "/auth/v1/health/"):
            return handlers.json_reply(200, _HEALTH)
        if path == REST or path.startswith(REST + "/"):
            return self._rest(method, path, headers, pairs, body)
        return handlers.json_reply(404, {"message": "no Route matched with those values"})

    # -- the pieces ----------------------------------------------------------------------------

    def _rest(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        pairs: list[tuple[str, str]],
        body: bytes,
    ) -> Reply:
        check_keys(self.key, headers, pairs)
        pairs = [(k, v) for k, v in pairs if k != "apikey"]  # the gateway consumes it
        parts = [p for p in path[len(REST) :].split("/") if p]
        schema, negotiated = negotiate_schema(method, headers, self.schemas)
        if not parts:
            if method not in ("GET", "HEAD"):
                raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")
            return self._db.transaction(
                schema,
                lambda cur: meta.root(
                    cur,
                    schema,
                    negotiated,
                    host=f"127.0.0.1:{self._server.port}",
                    base_path=REST + "/",
                    version=self.postgrest_version,
                ),
            )
        if parts[0] == "rpc" and len(parts) == 2:
            args = meta.rpc_arguments(method, pairs, body)
            post = method == "POST"
            return self._db.transaction(
                schema, lambda cur: meta.refuse_call(cur, schema, parts[1], args, post=post)
            )
        if len(parts) != 1:
            raise ApiError(404, "PGRST125", "Invalid path specified in request URL")
        if method not in ("GET", "HEAD", "POST", "PATCH", "DELETE"):
            raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")
        query = parse_query(pairs)
        media = handlers.negotiate(headers.get("accept", ""))

        def run(cur: Any) -> Reply:
            ctx = Context(cur, schema, negotiated, self.max_rows, self.safeupdate, media)
            prefs = parse_prefer(headers.get("prefer", ""), lambda tz: _timezone_ok(cur, tz))
            if prefs.timezone:
                cur.execute("SELECT set_config('timezone', %s, true)", (prefs.timezone,))
            table = catalog.find_table(cur, schema, parts[0])
            if method in ("GET", "HEAD"):
                head, range_header = method == "HEAD", headers.get("range")
                return handlers.read(
                    ctx, table, query, prefs, head=head, range_header=range_header, pairs=pairs
                )
            if method == "POST":
                return handlers.create(ctx, table, query, prefs, body)
            if method == "PATCH":
                return handlers.modify(ctx, table, query, prefs, body)
            return handlers.remove(ctx, table, query, prefs)

        return self._db.transaction(schema, run)


def _timezone_ok(cur: Any, tz: str) -> bool:
    sql = "SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = %s)"
    return bool(cur.execute(sql, (tz,)).fetchone()[0])


def postgres_dsn(conn: dict[str, Any]) -> str:
    """A libpq DSN from the connection fields `testing.db.postgres_database()` yields."""
    parts = [f"host={conn['host']}", f"port={conn['port']}", f"user={conn['user']}"]
    parts.append(f"dbname={conn.get('database') or 'postgres'}")
    if conn.get("password"):
        parts.append(f"password={conn['password']}")
    return " ".join(parts)
