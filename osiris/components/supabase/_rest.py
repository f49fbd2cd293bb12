"""A small client of Supabase's REST API (PostgREST behind Supabase's gateway), on httpx.

Requests go to `<project url>/rest/v1/<table>` with the key as the `apikey` and
`Authorization: Bearer` headers — never in a URL, so nothing that logs URLs can show it.
Retries (429, 5xx, dropped or timed-out connections, honouring `Retry-After`), timeouts and
redirects are the components' HTTP client's (`osiris.components._http`); PostgREST's JSON
errors become `RestError`, which the components translate into step errors (`translate`).

A write that is retried after its connection dropped may have been applied the first time:
an upsert then changes nothing, an insert can add its batch twice (docs/components.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from osiris.components._http import RETRY_STATUS, HttpClient
from osiris.components.api import StepContext, StepError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


@dataclass
class RestError(Exception):
    """A non-2xx answer: HTTP status and PostgREST's code, message, details and hint."""

    status: int
    code: str
    message: str
    details: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


@dataclass
class Table:
    """What PostgREST's OpenAPI document says about a table."""

    name: str
    columns: dict[str, dict[str, Any]]  # name -> its OpenAPI property, in table order
    required: set[str] = field(default_factory=set)
    primary_key: list[str] = field(default_factory=list)


class Client:
    """One project's REST API: `Client(url, key, timeout=30, retries=3)`, a context manager."""

    def __init__(
        self,
        url: str,
        key: str,
        *,
        timeout: float = 30.0,
        retries: int = 3,
        schema: str = "public",
        connect_timeout: float | None = None,
        backoff: float = 0.5,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.schema = schema
        self._openapi: dict[str, Any] | None = None
        self._http = HttpClient(
            service="Supabase",
            base_url=self.url + "/rest/v1",
            headers={
                "apikey": key,
                "Authorization": f"Bearer {key}",
                "Accept-Profile": schema,
                "Content-Profile": schema,
            },
            secret_headers=("apikey", "authorization"),
            timeout=timeout,
            connect_timeout=connect_timeout,
            retries=retries,
            backoff=backoff,
            # a redirect could carry the key to another host: Supabase's API never redirects
            max_redirects=0,
            on_retry=on_retry,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- requests --------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Iterable[tuple[str, str]] = (),
        prefer: Iterable[str] = (),
        body: bytes | None = None,
    ) -> httpx.Response:
        """Send one request, retrying what can be retried; RestError for an error answer."""
        headers = {}
        if prefer:
            headers["Prefer"] = ",".join(prefer)
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = self._http.request(
            method, path, params=list(params), headers=headers, content=body
        )
        if response.is_success:
            return response
        raise _rest_error(response)

    def ping(self) -> None:
        """The API answers with this key (GET /rest/v1/, PostgREST's OpenAPI document)."""
        self.request("GET", "/")

    def table(self, name: str) -> Table | None:
        """Columns, their types and the primary key of `name`; None if the API has no such table."""
        if self._openapi is None:
            self._openapi = self.request("GET", "/").json()
        definition = (self._openapi.get("definitions") or {}).get(name)
        if not isinstance(definition, dict):
            return None
        properties = definition.get("properties") or {}
        pk = [c for c, p in properties.items() if "<pk/>" in str(p.get("description") or "")]
        return Table(name, dict(properties), set(definition.get("required") or []), pk)

    def table_names(self) -> list[str]:
        """Every table (and view) PostgREST's OpenAPI document describes."""
        if self._openapi is None:
            self._openapi = self.request("GET", "/").json()
        return sorted(self._openapi.get("definitions") or {})

    def select(self, table: str, params: list[tuple[str, str]]) -> bytes:
        """The raw JSON array of one GET."""
        return self.request("GET", f"/{table}", params=params).content

    def insert(
        self,
        table: str,
        body: bytes,
        columns: list[str],
        *,
        resolution: str | None = None,
        on_conflict: list[str] | None = None,
    ) -> None:
        params = [("columns", ",".join(_quoted(c) for c in columns))]
        prefer = ["return=minimal"]
        if resolution is not None:
            prefer.append(f"resolution={resolution}")
            if on_conflict:
                params.append(("on_conflict", ",".join(on_conflict)))
        self.request("POST", f"/{table}", params=params, prefer=prefer, body=body)

    def delete(self, table: str, params: list[tuple[str, str]]) -> None:
        self.request("DELETE", f"/{table}", params=params, prefer=["return=minimal"])


def step_client(ctx: StepContext, schema: str) -> Client:
    """The client a step's config and connection ask for (`timeout`, `retries`)."""
    from osiris.components.supabase.connection import rest_target

    url, key = rest_target(ctx.connection or {})
    cfg = ctx.config
    return Client(
        url,
        key,
        timeout=float(cfg.get("timeout") or 30),
        retries=int(cfg.get("retries", 3)),
        schema=schema,
        connect_timeout=ctx.connect_timeout,
        on_retry=lambda why: log.warning("step %s: %s", ctx.step_id, why),
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def in_list(values: Iterable[Any]) -> str:
    """`in.(...)` of values, each double-quoted as PostgREST reads them."""
    quoted = ('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values)
    return f"in.({','.join(quoted)})"


def _rest_error(response: httpx.Response) -> RestError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = " ".join(response.text.split())[:200]
        return RestError(
            response.status_code, str(response.status_code), text or response.reason_phrase
        )
    return RestError(
        response.status_code,
        str(body.get("code") or response.status_code),
        str(body.get("message") or response.reason_phrase),
        None if body.get("details") is None else str(body.get("details")),
        None if body.get("hint") is None else str(body.get("hint")),
    )


def translate(exc: RestError, table: str, *, writing: bool = False) -> StepError:
    """The StepError for an error answer (the key never appears in one)."""
    text = exc.message + (f" ({exc.details})" if exc.details else "")
    code = exc.code
    if code in ("PGRST205", "42P01") or (exc.status == 404 and code.startswith("PGRST2")):
        hint = f"; {exc.hint}" if exc.hint else ""
        return StepError("table.not_found", f"Supabase has no table '{table}'{hint}")
    if exc.status in (401, 403) and code != "42501":
        return StepError(
            "auth.failed",
            f"Supabase refused the key ({exc.message}); check the connection's "
            "service_role_key (or key)",
        )
    if code == "42501":
        return StepError("permission.denied", f"{text}; use a key whose role may do this")
    if code in ("PGRST204", "42703"):
        return StepError("schema.mismatch", f"{text}; check the columns against table '{table}'")
    if code.startswith("23"):
        return StepError(
            "write.constraint_violation", f"{text}; fix the input rows or the table's constraints"
        )
    if code.startswith("22"):
        return StepError("write.failed" if writing else "sql.error", f"{text}")
    if exc.status in RETRY_STATUS:
        return StepError(
            "connection.failed",
            f"Supabase answered {exc.status} ({exc.message}) and kept doing so after the retries; "
            "try again later or raise `retries`",
        )
    if code.startswith("PGRST1") or exc.status == 400:
        return StepError("config.invalid" if not writing else "write.failed", f"{text}")
    return StepError("write.failed" if writing else "sql.error", f"Supabase error {code}: {text}")


def dumps(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
