"""The components' one HTTP client, on httpx: retries, timeouts, rate limit, redirects, the
network allow-list, and URLs that never show a secret.

- 429, 5xx and dropped or timed-out connections are retried with exponential backoff and
  jitter, honouring `Retry-After` (seconds or an HTTP date), up to `retries` times.
- `rate_limit` spaces requests to at most that many per second (per client).
- Redirects are followed by hand, at most `max_redirects`, each hop checked against the
  network allow-list like the first request; credentials (`Authorization`, the API-key header,
  secret query parameters) are not sent on to another host.
- TLS certificates are verified unless `verify=False` (a config key says so explicitly).
- Secrets go only in headers or query parameters, never in a path; `shown(url)` is the URL as
  events and errors show it: no user info, and secret query values as `***`.

Transport failures after the last retry become `StepError`s naming the service and the shown
URL; an error answer (4xx, or 5xx after the retries) is returned to the caller, which knows
how its API words errors.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from osiris.components.api import StepError
from osiris.network import DEFAULT_PORTS, is_allowed

if TYPE_CHECKING:
    import httpx

__all__ = ["RETRY_STATUS", "HttpClient", "retry_after", "shown"]

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504, 520, 521, 522, 523, 524})
MAX_BACKOFF = 30.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def shown(url: str, secret_params: Iterable[str] = ()) -> str:
    """`url` as it may be written anywhere: without user info, secret query values as ***."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port else "")
    secret = {p.lower() for p in secret_params}
    query = urlencode(
        [(k, "***" if k.lower() in secret else v) for k, v in parse_qsl(parts.query, True)],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks to wait (`Retry-After`: seconds or an HTTP date), if it says."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time()) if parsed is not None else None


class HttpClient:
    """One API's client: `base_url`, default `headers` and `params` (secrets among them are
    named in `secret_headers` / `secret_params`), `timeout` per request, and the policies above.

    `service` names the API in errors ("Supabase at https://x.supabase.co ..."). A context
    manager; `request` is safe to call from one thread at a time.
    """

    def __init__(
        self,
        *,
        service: str,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        secret_headers: Iterable[str] = ("authorization",),
        secret_params: Iterable[str] = (),
        timeout: float = 30.0,
        connect_timeout: float | None = None,
        retries: int = 3,
        backoff: float = 0.5,
        rate_limit: float | None = None,
        max_redirects: int = 5,
        verify: bool = True,
        allow: Sequence[str] = ("*",),
        on_retry: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        import httpx

        self.service = service
        self.base_url = base_url.rstrip("/")
        self.retries = max(0, retries)
        self.backoff = backoff
        self.max_redirects = max(0, max_redirects)
        self.allow = list(allow)
        self.on_retry = on_retry
        self.secret_params = {p.lower() for p in secret_params}
        self._secret_headers = {h.lower() for h in secret_headers}
        every = {"User-Agent": "osiris", **(headers or {})}
        # credentials are added per request, and only for the host they were given for
        self._credentials = {k: v for k, v in every.items() if k.lower() in self._secret_headers}
        self._params = dict(params or {})
        self._interval = 1.0 / rate_limit if rate_limit else 0.0
        self._next_at = 0.0
        self._pace = threading.Lock()
        self._sleep = sleep
        self._http = httpx.Client(
            headers={k: v for k, v in every.items() if k.lower() not in self._secret_headers},
            timeout=httpx.Timeout(timeout, connect=connect_timeout or timeout),
            follow_redirects=False,  # by hand: every hop is checked (see the module doc)
            verify=verify,
        )

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def shown(self, url: str) -> str:
        return shown(url, self.secret_params)

    def url(self, path: str) -> str:
        """`path` joined to the base URL (an absolute URL is taken as it is)."""
        if "://" in path:
            return path
        if not path:
            return self.base_url
        return f"{self.base_url}/{path.lstrip('/')}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Iterable[tuple[str, str]] | Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        json: Any = None,
    ) -> httpx.Response:
        """Send one request (retrying, pacing and following redirects as above) and return the
        final answer, whatever its status; StepError when no answer came."""
        import httpx

        url = self.url(path)
        merged: list[tuple[str, str]] = list(self._params.items())
        if isinstance(params, Mapping):
            merged += [(str(k), str(v)) for k, v in params.items()]
        elif params is not None:
            merged += list(params)
        hops = 0
        sent_headers = {**self._credentials, **(headers or {})}
        query: list[tuple[str, str | int | float | bool | None]] | None = list(merged)
        attempt = 0
        while True:
            self._check_allowed(url)
            self._wait_turn()
            try:
                response = self._http.request(
                    method, url, params=query, headers=sent_headers, content=content, json=json
                )
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if attempt >= self.retries:
                    raise self._transport_error(exc, url) from None
                self._pause(attempt, None, f"{type(exc).__name__} on {method} {self.shown(url)}")
                attempt += 1
                continue
            if response.status_code in _REDIRECTS and response.headers.get("Location"):
                if hops >= self.max_redirects:
                    raise StepError(
                        "http.redirects",
                        f"{self.service} redirected more than {self.max_redirects} times "
                        f"(last: {self.shown(str(response.url))})",
                    )
                hops += 1
                target = urljoin(str(response.url), response.headers["Location"])
                if urlsplit(target).hostname != urlsplit(str(response.url)).hostname:
                    # credentials are for the host they were given for
                    sent_headers = _drop(sent_headers, self._secret_headers)
                    target = _without(target, self.secret_params)
                if response.status_code == 303 or (
                    response.status_code in (301, 302) and method != "GET"
                ):
                    method, content, json = "GET", None, None
                url, query = target, None  # the Location carries its own query
                continue
            if response.status_code in RETRY_STATUS and attempt < self.retries:
                self._pause(
                    attempt, response, f"HTTP {response.status_code} on {method} {self.shown(url)}"
                )
                attempt += 1
                continue
            return response

    def json(self, response: httpx.Response, page: int) -> Any:
        """The JSON body of a successful answer; StepError naming the status (or the broken
        body), the shown URL and the page otherwise."""
        where = self.shown(str(response.url))
        if not response.is_success:
            text = " ".join(response.text.split())[:200]
            status = response.status_code
            code = {401: "auth.failed", 403: "auth.failed", 404: "http.not_found"}.get(
                status, "http.status"
            )
            raise StepError(
                code, f"{self.service} answered {status} for {where} (page {page}): {text}"
            )
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError) as exc:
            raise StepError(
                "http.bad_json",
                f"{self.service} sent a body that is not JSON for {where} (page {page}): {exc}",
            ) from None

    # -- policies ----------------------------------------------------------------------------
    def _check_allowed(self, url: str) -> None:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
        if not is_allowed(self.allow, host, port):
            raise StepError(
                "network.denied",
                f"{self.service}: {host}:{port} is not allowed by runner.network.allow; add "
                f"'{host}:{port}' to it in osiris.yaml",
            )

    def _wait_turn(self) -> None:
        if not self._interval:
            return
        with self._pace:
            now = time.monotonic()
            wait = self._next_at - now
            self._next_at = max(now, self._next_at) + self._interval
        if wait > 0:
            self._sleep(wait)

    def _pause(self, attempt: int, response: httpx.Response | None, why: str) -> None:
        delay = min(MAX_BACKOFF, self.backoff * 2**attempt) * random.uniform(0.5, 1.5)
        after = retry_after(response) if response is not None else None
        if after is not None:
            delay = min(after, 2 * MAX_BACKOFF)
        message = f"{why}; retrying in {delay:.1f}s (attempt {attempt + 2})"
        if self.on_retry is not None:
            self.on_retry(message)
        else:
            log.warning("%s", message)
        self._sleep(delay)

    def _transport_error(self, exc: Exception, url: str) -> StepError:
        import httpx

        where = self.shown(url)
        if isinstance(exc, httpx.TimeoutException):
            return StepError(
                "connection.timeout",
                f"{self.service} at {where} did not answer in time ({type(exc).__name__}); "
                "raise `timeout` or check the network and runner.network.allow",
            )
        if isinstance(exc, httpx.ConnectError):
            text = str(exc)
            if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
                return StepError(
                    "connection.tls",
                    f"{self.service} at {where}: its TLS certificate could not be verified; fix "
                    "the certificate, or turn the check off for this step (`validate_ssl: false`)",
                )
            return StepError(
                "connection.refused", f"cannot connect to {self.service} at {where}: {text}"
            )
        return StepError(
            "connection.failed",
            f"the connection to {self.service} at {where} broke: {exc or type(exc).__name__}",
        )


def _drop(headers: dict[str, str], names: set[str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in names}


def _without(url: str, params: set[str]) -> str:
    if not params:
        return url
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, True) if k.lower() not in params]
    return urlunsplit(parts._replace(query=urlencode(kept)))
