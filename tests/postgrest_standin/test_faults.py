"""Injected faults and what the official client does with each (retries included)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from postgrest import APIError, SyncPostgrestClient

from testing.postgrest_standin import PostgrestStandin

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("items")]

Query = Callable[[str], list[tuple[Any, ...]]]


def count_items(query: Query) -> int:
    return int(query("SELECT count(*) FROM items")[0][0])


def test_429_is_an_api_error_with_code_429_and_not_retried(
    client: SyncPostgrestClient, standin: PostgrestStandin, query: Query
) -> None:
    standin.fail_next(status=429, times=2, retry_after=1, method="POST")
    with pytest.raises(APIError) as caught:
        client.table("items").insert({"id": 10, "name": "x"}).execute()
    assert caught.value.json() == {
        "message": "Too Many Requests",
        "code": "429",
        "hint": None,
        "details": "Too Many Requests\n",
    }
    assert [(r.method, r.status, r.fault) for r in standin.requests] == [("POST", 429, "status")]
    assert count_items(query) == 5  # the database was never touched
    assert len(standin.faults.pending()) == 1 and standin.faults.pending()[0].times == 1
    r = httpx.post(standin.rest_url + "/items", json={"id": 10}, headers=standin.client_headers())
    assert (r.status_code, r.headers["Retry-After"], r.headers["Content-Type"]) == (
        429,
        "1",
        "text/plain; charset=utf-8",
    )
    client.table("items").insert({"id": 10, "name": "x"}).execute()  # the queue is empty now
    assert count_items(query) == 6


def test_503_on_get_is_retried_by_the_client(
    client: SyncPostgrestClient, standin: PostgrestStandin
) -> None:
    standin.fail_next(status=503, method="GET", path="items")
    started = time.monotonic()
    rows = client.table("items").select("id").eq("id", 1).execute().data
    assert rows == [{"id": 1}]
    assert time.monotonic() - started >= 1  # the client's first backoff
    first, second = standin.requests
    assert (first.status, first.fault, second.status) == (503, "status", 200)
    assert "x-retry-count" not in first.headers
    assert second.headers["x-retry-count"] == "1"


def test_503_on_post_is_not_retried(
    client: SyncPostgrestClient, standin: PostgrestStandin, query: Query
) -> None:
    standin.fail_next(status=503)
    with pytest.raises(APIError) as caught:
        client.table("items").insert({"id": 10}).execute()
    assert (caught.value.code, caught.value.message) == ("503", "Service Unavailable")
    assert "503 Service Temporarily Unavailable" in str(caught.value.details)
    assert len(standin.requests) == 1
    assert count_items(query) == 5


def test_520_gives_cloudflare_text(client: SyncPostgrestClient, standin: PostgrestStandin) -> None:
    standin.fail_next(status=520, method="DELETE")
    with pytest.raises(APIError) as caught:
        client.table("items").delete().eq("id", 1).execute()
    assert (caught.value.code, caught.value.details) == ("520", "error code: 520")


def test_faults_match_method_and_path(
    client: SyncPostgrestClient, standin: PostgrestStandin
) -> None:
    standin.fail_next(status=500, method="POST", path="other")
    assert client.table("items").select("id").limit(1).execute().data == [{"id": 1}]
    client.table("items").insert({"id": 10}).execute()
    assert [r.status for r in standin.requests] == [200, 201]
    assert len(standin.faults.pending()) == 1
    standin.clear_faults()
    assert standin.faults.pending() == []


def test_dropped_connection_raises_and_writes_nothing(
    client: SyncPostgrestClient, standin: PostgrestStandin, query: Query
) -> None:
    standin.drop_next(method="POST", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        client.table("items").insert({"id": 10, "name": "lost"}).execute()
    record = standin.requests[-1]
    assert (record.fault, record.status, record.body_size) == ("drop", None, 23)
    assert count_items(query) == 5
    client.table("items").insert({"id": 10, "name": "kept"}).execute()
    assert count_items(query) == 6


def test_dropped_connection_on_get_is_retried(
    client: SyncPostgrestClient, standin: PostgrestStandin
) -> None:
    standin.drop_next(method="GET")
    assert client.table("items").select("id").eq("id", 2).execute().data == [{"id": 2}]
    assert [r.fault for r in standin.requests] == ["drop", None]


def test_delay_makes_a_short_client_timeout_fire(standin: PostgrestStandin) -> None:
    standin.delay_next(1.0, method="GET")
    session = httpx.Client(timeout=0.2)
    with SyncPostgrestClient(
        standin.rest_url, headers=standin.client_headers(), http_client=session
    ) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.table("items").select("id").execute()  # timeouts are not retried
        assert time.monotonic() - started < 1.0
    session.close()
    with httpx.Client(timeout=5) as http:
        r = http.get(
            standin.rest_url + "/items?select=id&id=eq.1", headers=standin.client_headers()
        )
    assert r.json() == [{"id": 1}]
    # the delayed request is still served once its delay is over (nobody reads the answer)
    deadline = time.monotonic() + 5
    while standin.requests[0].status is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(r.fault, r.status) for r in standin.requests] == [("delay", 200), (None, 200)]
