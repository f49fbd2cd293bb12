"""Error answers: PostgREST's JSON error body and its SQLSTATE → HTTP status table."""

from __future__ import annotations

import json
from typing import Any

JSON_UTF8 = "application/json; charset=utf-8"


class ApiError(Exception):
    """An error answer in PostgREST's shape.

    The body always carries the four keys `code`, `details`, `hint` and `message` (details and
    hint may be null), which is the only shape every postgrest-py 2.x parses, and the response
    carries `Proxy-Status: PostgREST; error=<code>` as PostgREST ≥ 13 sends it.
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Any = None,
        hint: Any = None,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint
        self.headers = list(headers or [])

    def body(self) -> bytes:
        # aeson writes object keys in sorted order, hence code/details/hint/message
        payload = {
            "code": self.code,
            "details": self.details,
            "hint": self.hint,
            "message": self.message,
        }
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    def response_headers(self) -> list[tuple[str, str]]:
        return [
            ("Content-Type", JSON_UTF8),
            ("Proxy-Status", f"PostgREST; error={self.code}"),
            *self.headers,
        ]


def parse_error(what: str, text: str, column: int, details: str) -> ApiError:
    """PGRST100, worded like PostgREST's parsec errors: `"failed to parse <what> (<text>)" ...`."""
    message = f'"failed to parse {what} ({text})" (line 1, column {column})'
    return ApiError(400, "PGRST100", message, details=details)


def not_embedded(resource: str) -> ApiError:
    return ApiError(
        400,
        "PGRST108",
        f"'{resource}' is not an embedded resource in this request",
        hint=f"Verify that '{resource}' is included in the 'select' query parameter.",
    )


_EXACT = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "53400": 500,
    "57P01": 503,
    "P0001": 400,
    "42P01": 404,
    "42P17": 500,
    "42501": 401,  # the stand-in has no signed-in users: every caller is "not authenticated"
}
_PREFIX = {
    "08": 503,
    "09": 500,
    "0L": 403,
    "0P": 403,
    "25": 500,
    "28": 403,
    "2D": 500,
    "38": 500,
    "39": 500,
    "3B": 500,
    "40": 500,
    "53": 503,
    "54": 500,
    "55": 500,
    "57": 500,
    "58": 500,
    "F0": 500,
    "HV": 500,
    "P0": 500,
    "XX": 500,
}


def pg_status(sqlstate: str, message: str) -> int:
    """The HTTP status PostgREST v13/v14 answers for a PostgreSQL error (docs: errors.rst)."""
    if sqlstate == "21000":
        # pg-safeupdate's "... requires a WHERE clause" is the client's fault; any other
        # cardinality violation is a server-side bug in a view or function
        return 400 if message.endswith("requires a WHERE clause") else 500
    if sqlstate == "22023":
        return 401 if message.startswith("role") and message.endswith("does not exist") else 400
    if sqlstate == "42883":
        return 406 if message.startswith("function xmlagg(") else 404
    if sqlstate in _EXACT:
        return _EXACT[sqlstate]
    return _PREFIX.get(sqlstate[:2], 400)


def from_postgres(exc: Exception) -> ApiError:
    """Translate a psycopg error into the answer PostgREST gives for it."""
    sqlstate = getattr(exc, "sqlstate", None)
    diag = getattr(exc, "diag", None)
    if not sqlstate or diag is None:
        return ApiError(
            503, "PGRST001", "Database client error. Retrying the connection.", details=str(exc)
        )
    message = diag.message_primary or str(exc)
    status = pg_status(sqlstate, message)
    headers = [("WWW-Authenticate", "Bearer")] if status == 401 else []
    return ApiError(
        status,
        sqlstate,
        message,
        details=diag.message_detail,
        hint=diag.message_hint,
        headers=headers,
    )
