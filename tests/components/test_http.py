"""osiris.components._http against a real local HTTP server: retries, Retry-After, dropped
connections, rate limit, redirects (credentials stay with their host), the allow-list, and
URLs that never show a secret. Pauses go through an injected `sleep` that records them, so
nothing here depends on wall-clock time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from osiris.components._http import HttpClient, shown
from osiris.components.api import StepError
from testing.wsgi_server import DropConnection, WSGIServer


class Script:
    """A WSGI app answering each path from a queue of (status, headers, body) or 'drop'."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Any]] = {}
        self.seen: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        path = environ["PATH_INFO"]
        headers = {
            k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")
        }
        self.seen.append(
            {"path": path, "query": environ.get("QUERY_STRING", ""), "headers": headers,
             "host": environ.get("HTTP_HOST", "")}
        )  # fmt: skip
        queue = self.answers.get(path) or [("200 OK", [], b'{"ok": true}')]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if answer == "drop":
            start_response("200 OK", [("Content-Length", "100")])
            yield b"{"
            raise DropConnection
        status, extra, body = answer
        start_response(status, [("Content-Type", "application/json"), *extra])
        yield body


@pytest.fixture
def server() -> Iterator[tuple[WSGIServer, Script]]:
    script = Script()
    srv = WSGIServer(script)
    srv.start()
    try:
        yield srv, script
    finally:
        srv.close()


def client(srv: WSGIServer, pauses: list[float], **kw: Any) -> HttpClient:
    return HttpClient(
        service="Test API",
        base_url=f"http://127.0.0.1:{srv.port}/v1",
        sleep=pauses.append,
        backoff=0.01,
        **kw,
    )


def test_429_and_503_are_retried_honouring_retry_after(server):
    srv, script = server
    script.answers["/v1/items"] = [
        ("429 Too Many Requests", [("Retry-After", "7")], b"{}"),
        ("503 Service Unavailable", [], b"{}"),
        ("200 OK", [], b'{"items": [1]}'),
    ]
    pauses: list[float] = []
    notes: list[str] = []
    with client(srv, pauses, on_retry=notes.append) as http:
        response = http.request("GET", "items", params={"page": 2})
    assert response.status_code == 200 and response.json() == {"items": [1]}
    assert pauses[0] == 7.0 and len(pauses) == 2
    assert "HTTP 429 on GET http://127.0.0.1" in notes[0] and "attempt 2" in notes[0]
    assert [s["query"] for s in script.seen] == ["page=2"] * 3


def test_a_dropped_connection_is_retried_and_the_last_failure_is_a_step_error(server):
    srv, script = server
    script.answers["/v1/x"] = ["drop", ("200 OK", [], b"[]")]
    pauses: list[float] = []
    with client(srv, pauses) as http:
        assert http.request("GET", "x").json() == []
    script.answers["/v1/y"] = ["drop"]
    with client(srv, pauses, retries=1) as http, pytest.raises(StepError) as failed:
        http.request("GET", "y")
    assert failed.value.code == "connection.failed"
    assert "Test API at http://127.0.0.1" in failed.value.message


def test_an_error_answer_after_the_retries_is_returned_to_the_caller(server):
    srv, script = server
    script.answers["/v1/z"] = [("500 Internal Server Error", [], b'{"message": "boom"}')]
    pauses: list[float] = []
    with client(srv, pauses, retries=2) as http:
        response = http.request("GET", "z")
    assert response.status_code == 500 and len(pauses) == 2
    script.answers["/v1/w"] = [("404 Not Found", [], b"{}")]
    with client(srv, pauses) as http:
        assert http.request("GET", "w").status_code == 404  # not retried
    assert len(pauses) == 2


def test_the_rate_limit_spaces_requests(server):
    srv, _ = server
    pauses: list[float] = []
    with client(srv, pauses, rate_limit=4) as http:
        for _ in range(4):
            http.request("GET", "a")
    # the first goes at once; the n-th is given the slot n/4 s after it (the recorder does not
    # really sleep, so each pause is its slot less the little time the requests took)
    assert len(pauses) == 3
    for n, pause in enumerate(pauses, 1):
        assert n / 4 - 0.15 < pause <= n / 4, pauses


def test_credentials_stay_with_their_host_across_a_redirect(server):
    srv, script = server
    other = f"http://localhost:{srv.port}/elsewhere?token=s3cret-token&page=2"
    script.answers["/v1/start"] = [("302 Found", [("Location", other)], b"")]
    script.answers["/v1/same"] = [("301 Moved", [("Location", "/v1/final")], b"")]
    pauses: list[float] = []
    with client(
        srv, pauses, headers={"Authorization": "Bearer s3cret-bearer", "X-Trace": "t"},
        params={"token": "s3cret-token"}, secret_params=["token"],
    ) as http:  # fmt: skip
        http.request("GET", "same")
        http.request("GET", "start")
    _same, final, start, elsewhere = script.seen
    assert (
        final["path"] == "/v1/final" and final["headers"]["authorization"] == "Bearer s3cret-bearer"
    )
    assert start["headers"]["authorization"] == "Bearer s3cret-bearer"
    # another host: no Authorization, no secret query parameter; the rest goes on
    assert elsewhere["host"].startswith("localhost:")
    assert "authorization" not in elsewhere["headers"]
    assert elsewhere["headers"]["x-trace"] == "t"
    assert elsewhere["query"] == "page=2"


def test_redirects_are_limited_and_each_hop_is_checked_against_the_allow_list(server):
    srv, script = server
    script.answers["/v1/loop"] = [("302 Found", [("Location", "/v1/loop")], b"")]
    pauses: list[float] = []
    with client(srv, pauses, max_redirects=3) as http, pytest.raises(StepError) as failed:
        http.request("GET", "loop")
    assert failed.value.code == "http.redirects" and "more than 3 times" in failed.value.message
    script.answers["/v1/out"] = [
        ("302 Found", [("Location", f"http://localhost:{srv.port}/")], b"")
    ]
    allow = [f"127.0.0.1:{srv.port}"]
    with client(srv, pauses, allow=allow) as http, pytest.raises(StepError) as denied:
        http.request("GET", "out")
    assert denied.value.code == "network.denied"
    assert f"localhost:{srv.port} is not allowed by runner.network.allow" in denied.value.message
    assert [s["path"] for s in script.seen][-1] == "/v1/out"  # the other host was never asked


def test_a_closed_port_is_connection_refused():
    pauses: list[float] = []
    http = HttpClient(
        service="Test API", base_url="http://127.0.0.1:9", retries=1, sleep=pauses.append
    )
    with http, pytest.raises(StepError) as failed:
        http.request("GET", "x")
    assert failed.value.code == "connection.refused" and len(pauses) == 1


def test_shown_urls_never_carry_a_secret():
    url = "https://user:pw@api.example.com:8443/v1/items?api_key=abc123&page=2&Token=t0k"
    assert shown(url, ["api_key", "token"]) == (
        "https://api.example.com:8443/v1/items?api_key=***&page=2&Token=***"
    )
    assert "abc123" not in shown(url, ["api_key", "token"]) and "pw" not in shown(url)
    assert json.dumps(shown("http://[::1]:80/x")) == '"http://[::1]:80/x"'


def test_tls_certificates_are_verified_unless_turned_off(tmp_path):
    import ssl
    import subprocess

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    srv = WSGIServer(Script())
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    srv.start()
    try:
        url = f"https://127.0.0.1:{srv.port}/v1"
        pauses: list[float] = []
        strict = HttpClient(service="Test API", base_url=url, retries=0, sleep=pauses.append)
        with strict, pytest.raises(StepError) as failed:
            strict.request("GET", "x")
        assert failed.value.code == "connection.tls"
        assert "validate_ssl: false" in failed.value.message
        loose = HttpClient(service="Test API", base_url=url, verify=False, sleep=pauses.append)
        with loose:
            assert loose.request("GET", "x").json() == {"ok": True}
    finally:
        srv.close()
