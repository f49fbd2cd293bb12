"""graphql.extractor: a GraphQL query's records → one Arrow stream (see spec.yaml).

Each request POSTs `{"query", "variables"}` as JSON. With `pagination_enabled`, the object at
`pagination_path` (Relay's `pageInfo`) says whether there is a next page
(`pagination_has_next_field`) and its cursor (`pagination_cursor_field`), which goes into the
variable `pagination_variable_name` of the next request; pages are requested as the stream is
read. An answer with GraphQL `errors` fails the step with the server's messages, even when it
also carries data: a partial result is not written as if it were whole.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from osiris.components._json_records import find
from osiris.components.api import StepContext, StepError

if TYPE_CHECKING:
    import pyarrow as pa

    from osiris.components._http import HttpClient

log = logging.getLogger(__name__)
_SERVICE = "the GraphQL endpoint"


def warm() -> None:
    import httpx  # noqa: F401
    import pyarrow  # noqa: F401


def run(ctx: StepContext) -> pa.RecordBatchReader:
    from osiris.components._json_records import stream

    cfg = ctx.config
    client = _client(ctx)
    try:
        return stream(_pages(client, cfg), flatten=cfg.get("flatten_result", True),
                      pinned=cfg.get("schema"))  # fmt: skip
    except BaseException:
        client.close()
        raise


def _client(ctx: StepContext) -> HttpClient:
    from osiris.components._http import HttpClient

    cfg = ctx.config
    headers = {str(k): str(v) for k, v in (cfg.get("headers") or {}).items()}
    secret = {"authorization"}
    kind = cfg.get("auth_type", "none")
    token = cfg.get("auth_token")
    if kind != "none" and not token:
        raise StepError("config.invalid", f"auth_type {kind} needs `auth_token`")
    if kind == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif kind == "basic":
        user = cfg.get("auth_username")
        if not user:
            raise StepError("config.invalid", "auth_type basic needs `auth_username`")
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
    elif kind == "api_key":
        name = cfg.get("auth_header_name") or "X-API-Key"
        headers[name] = str(token)
        secret.add(name.lower())
    return HttpClient(
        service=_SERVICE,
        base_url=cfg["endpoint"],
        headers={"Accept": "application/json", **headers},
        secret_headers=secret,
        timeout=float(cfg.get("timeout", 30)),
        connect_timeout=ctx.connect_timeout,
        retries=int(cfg.get("max_retries", 3)),
        backoff=float(cfg.get("retry_delay", 1.0)),
        verify=bool(cfg.get("validate_ssl", True)),
        allow=ctx.network_allow,
        on_retry=lambda why: log.warning("step %s: %s", ctx.step_id, why),
    )


def _pages(client: HttpClient, cfg: dict[str, Any]) -> Iterator[list[Any]]:
    variables = dict(cfg.get("variables") or {})
    paginate = bool(cfg.get("pagination_enabled", False))
    max_pages = int(cfg.get("max_pages", 0))
    data_path = cfg.get("data_path", "data")
    number = 0
    try:
        while True:
            number += 1
            response = client.request(
                "POST", "", json={"query": cfg["query"], "variables": variables}
            )
            body = client.json(response, number)
            _raise_errors(body, number)
            yield _records(body, data_path, number)
            if not paginate or (max_pages and number >= max_pages):
                return
            info = find(body, cfg.get("pagination_path", "data.pageInfo"))
            if not isinstance(info, dict):
                raise StepError(
                    "http.bad_shape",
                    f"page {number}: no pageInfo object at `pagination_path` "
                    f"{cfg.get('pagination_path', 'data.pageInfo')}; ask for "
                    "`pageInfo { hasNextPage endCursor }` in the query and point the path at it",
                )
            more = info.get(cfg.get("pagination_has_next_field", "hasNextPage"))
            cursor = info.get(cfg.get("pagination_cursor_field", "endCursor"))
            if not more or cursor is None:
                return
            variables[cfg.get("pagination_variable_name", "after")] = cursor
    finally:
        client.close()


def _raise_errors(body: Any, number: int) -> None:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return
    messages = []
    for error in errors if isinstance(errors, list) else [errors]:
        text = error.get("message") if isinstance(error, dict) else str(error)
        where = error.get("path") if isinstance(error, dict) else None
        messages.append(f"{text} (at {'.'.join(map(str, where))})" if where else str(text))
    raise StepError(
        "graphql.errors",
        f"{_SERVICE} answered with errors (page {number}): " + "; ".join(messages[:5]),
    )


def _records(body: Any, path: str, number: int) -> list[Any]:
    found = find(body, path) if path else body
    if isinstance(found, dict):
        return [found]  # one object is one record
    if isinstance(found, list):
        return [r for r in found if r is not None]
    keys = (
        ", ".join(sorted(body["data"]))
        if isinstance(body, dict) and isinstance(body.get("data"), dict)
        else "none"
    )
    raise StepError(
        "http.bad_shape",
        f"page {number}: nothing at `data_path` {path}; the answer's data has: {keys}",
    )
