"""Connections to the served database: a small pool, and one transaction per request."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg

from testing.postgrest_standin.errors import ApiError, from_postgres

T = TypeVar("T")


def _unavailable(details: str | None = None) -> ApiError:
    return ApiError(
        503, "PGRST000", "Database connection error. Retrying the connection.", details=details
    )


class Database:
    """Pooled psycopg connections to `dsn`, with the session TimeZone set to `timezone`."""

    def __init__(self, dsn: str, timezone: str) -> None:
        self.dsn = dsn
        self.timezone = timezone
        self._lock = threading.Lock()
        self._idle: list[psycopg.Connection[Any]] = []
        self._closed = False

    def transaction(self, schema: str, run: Callable[[Any], T]) -> T:
        """`run(cursor)` in its own transaction: commit on success, roll back on any error.

        The search path is PostgREST's: the request schema, then db-extra-search-path as
        Supabase sets it (public, extensions). PostgreSQL errors become PostgREST answers.
        """
        with self._connection() as conn:
            try:
                with conn.cursor() as cur:
                    names = dict.fromkeys([schema, "public", "extensions"])
                    path = ", ".join('"' + n.replace('"', '""') + '"' for n in names)
                    cur.execute("SELECT set_config('search_path', %s, true)", (path,))
                    result = run(cur)
                conn.commit()
                return result
            except ApiError:
                conn.rollback()
                raise
            except psycopg.Error as exc:
                if not conn.closed:
                    conn.rollback()
                raise from_postgres(exc) from exc

    def close(self) -> None:
        self._closed = True
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        conn = self._acquire()
        try:
            yield conn
        finally:
            idle = conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            if not conn.closed and not idle:
                conn.rollback()
            self._release(conn)

    def _acquire(self) -> psycopg.Connection[Any]:
        if self._closed:
            # a request still in flight (a delay fault) must not open a connection after close()
            raise _unavailable()
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and not conn.broken:
                    return conn
        try:
            return psycopg.connect(self.dsn, options=f"-c TimeZone={self.timezone}")
        except psycopg.Error as exc:
            raise _unavailable(str(exc).strip()) from exc

    def _release(self, conn: psycopg.Connection[Any]) -> None:
        if conn.closed or conn.broken or self._closed:
            conn.close()
            return
        with self._lock:
            self._idle.append(conn)
