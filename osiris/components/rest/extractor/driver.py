"""rest.extractor: pages of a JSON HTTP API → one Arrow stream (see spec.yaml).

Pages are requested as the stream is read, so memory holds the first records that fix the
types (osiris.components._json_records) and then a page at a time. Paging stops at the first
of: no next link / cursor (or `has_more_path` false), an empty page, a short page (offset and
page styles), the `total_path` count, `max_pages`, `max_records`.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urljoin, urlsplit

from osiris.components._json_records import find
from osiris.components.api import StepContext, StepError

if TYPE_CHECKING:
    import pyarrow as pa

    from osiris.components._http import HttpClient

_SERVICE = "the REST API"
log = logging.getLogger(__name__)


def warm() -> None:
    import httpx  # noqa: F401
    import pyarrow  # noqa: F401


def run(ctx: StepContext) -> pa.RecordBatchReader:
    from osiris.components._json_records import stream

    cfg = ctx.config
    client = _client(ctx)
    pages = _pages(client, cfg)
    try:
        return stream(pages, flatten=cfg.get("flatten", True), pinned=cfg.get("schema"))
    except BaseException:
        client.close()
        raise


def _client(ctx: StepContext) -> HttpClient:
    from osiris.components._http import HttpClient

    cfg = ctx.config
    headers = {str(k): str(v) for k, v in (cfg.get("headers") or {}).items()}
    params: dict[str, str] = {}
    secret_headers = {"authorization"}
    secret_params: set[str] = set()
    auth = cfg.get("auth") or {"type": "none"}
    kind = auth["type"]
    if kind == "bearer":
        headers["Authorization"] = f"Bearer {_need(auth, 'token', kind)}"
    elif kind == "basic":
        pair = f"{_need(auth, 'username', kind)}:{_need(auth, 'password', kind)}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif kind == "api_key":
        name = auth.get("name") or "X-API-Key"
        if auth.get("in") == "query":
            params[name] = _need(auth, "token", kind)
            secret_params.add(name.lower())
        else:
            headers[name] = _need(auth, "token", kind)
            secret_headers.add(name.lower())
    return HttpClient(
        service=_SERVICE,
        base_url=cfg["base_url"],
        headers=headers,
        params=params,
        secret_headers=secret_headers,
        secret_params=secret_params,
        timeout=float(cfg.get("timeout", 30)),
        connect_timeout=ctx.connect_timeout,
        retries=int(cfg.get("retries", 5)),
        rate_limit=cfg.get("rate_limit"),
        max_redirects=int(cfg.get("max_redirects", 5)),
        verify=bool(cfg.get("validate_ssl", True)),
        allow=ctx.network_allow,
        on_retry=lambda why: log.warning("step %s: %s", ctx.step_id, why),
    )


def _need(auth: dict[str, Any], key: str, kind: str) -> str:
    value = auth.get(key)
    if not value:
        raise StepError("config.invalid", f"auth: type {kind} needs `{key}`")
    return str(value)


def _pages(client: HttpClient, cfg: dict[str, Any]) -> Iterator[list[Any]]:
    """The record lists of the pages, requested one by one as they are wanted."""
    paging = cfg.get("pagination") or {"type": "none"}
    style = paging["type"]
    size = int(paging.get("page_size", 100))
    max_pages = paging.get("max_pages")
    max_records = cfg.get("max_records")
    params: dict[str, Any] = dict(cfg.get("params") or {})
    url = client.url(cfg.get("path") or "")
    number, seen, offset = 0, 0, 0
    page_no = int(paging.get("start_page", 1))
    try:
        while True:
            if style == "offset":
                params |= {paging.get("offset_param", "offset"): offset}
                params |= {paging.get("limit_param", "limit"): size}
            elif style == "page":
                params |= {paging.get("page_param", "page"): page_no}
                params |= {paging.get("limit_param", "limit"): size}
            number += 1
            response = client.request("GET", url, params=params)
            body = client.json(response, number)
            records = _records(body, cfg.get("data_path"), number)
            if max_records is not None and seen + len(records) > max_records:
                records = records[: max_records - seen]
            seen += len(records)
            yield records
            if not records or (max_records is not None and seen >= max_records):
                return
            if max_pages is not None and number >= max_pages:
                return
            if paging.get("has_more_path") and not find(body, paging["has_more_path"]):
                return
            if style == "none":
                return
            if style in ("offset", "page"):
                total = find(body, paging["total_path"]) if paging.get("total_path") else None
                if len(records) < size or (isinstance(total, int) and seen >= total):
                    return
                offset += len(records)
                page_no += 1
            elif style == "next_link":
                nxt = find(body, paging.get("next_path") or "next")
                if not nxt:
                    return
                url, params = _split(str(response.url), str(nxt))
            elif style == "link_header":
                nxt = response.links.get("next", {}).get("url")
                if not nxt:
                    return
                url, params = _split(str(response.url), str(nxt))
            elif style == "cursor":
                cursor = find(body, paging.get("cursor_path") or "next_cursor")
                if cursor in (None, ""):
                    return
                params |= {paging.get("cursor_param", "cursor"): cursor}
    finally:
        client.close()


def _split(current: str, link: str) -> tuple[str, dict[str, Any]]:
    """A next link as a URL and its query (relative to the page that gave it, as in HTML)."""
    parts = urlsplit(urljoin(current, link))
    base = parts._replace(query="", fragment="").geturl()
    return base, dict(parse_qsl(parts.query, keep_blank_values=True))


def _records(body: Any, path: str | None, number: int) -> list[Any]:
    if path:
        found = find(body, path)
        if not isinstance(found, list):
            raise StepError(
                "http.bad_shape",
                f"page {number}: `data_path` {path} is {_kind(found)} in the body, not a list; "
                f"the body has {_keys(body)}",
            )
        return found
    if isinstance(body, list):
        return body
    lists = [k for k, v in body.items() if isinstance(v, list)] if isinstance(body, dict) else []
    raise StepError(
        "http.bad_shape",
        f"page {number}: the body is {_kind(body)}, not a list of records; set `data_path`"
        + (f" (lists in it: {', '.join(lists)})" if lists else ""),
    )


def _kind(value: Any) -> str:
    return "missing" if value is None else f"a {type(value).__name__}"


def _keys(body: Any) -> str:
    if isinstance(body, dict):
        return "keys " + ", ".join(json.dumps(k) for k in list(body)[:10])
    return _kind(body)
