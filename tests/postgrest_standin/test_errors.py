"""Error answers: codes, statuses, all four body keys, as the official client sees them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from postgrest import APIError, SyncPostgrestClient

from testing.postgrest_standin import PostgrestStandin

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("items")]


def api_error(call: Callable[[], Any]) -> APIError:
    with pytest.raises(APIError) as caught:
        call()
    return caught.value


def test_unknown_table_is_pgrst205_with_a_hint(
    client: SyncPostgrestClient, raw: httpx.Client
) -> None:
    err = api_error(lambda: client.table("itemz").select("*").execute())
    assert err.json() == {
        "message": "Could not find the table 'public.itemz' in the schema cache",
        "code": "PGRST205",
        "hint": "Perhaps you meant the table 'public.items'",
        "details": None,
    }
    assert "PGRST205" in str(err)  # what Osiris upstream matches on
    r = raw.post("/nothing_like_it", json={"a": 1})
    assert (r.status_code, r.json()["hint"]) == (404, None)
    assert r.headers["Proxy-Status"] == "PostgREST; error=PGRST205"
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert list(r.json()) == ["code", "details", "hint", "message"]


def test_head_errors_carry_the_code_in_proxy_status(client: SyncPostgrestClient) -> None:
    err = api_error(lambda: client.table("itemz").select("*", count="exact", head=True).execute())
    assert (err.code, err.message) == ("PGRST205", "Not Found")


def test_unknown_column_is_42703(client: SyncPostgrestClient) -> None:
    err = api_error(lambda: client.table("items").select("id,zzzzzz").execute())
    assert (err.code, err.message, err.hint) == (
        "42703",
        "column items.zzzzzz does not exist",
        None,
    )
    err = api_error(lambda: client.table("items").select("*").eq("nam", "x").execute())
    assert err.message == "column items.nam does not exist"
    assert err.hint == 'Perhaps you meant to reference the column "items.name".'


def test_bare_count_is_postgres_attribute_notation(client: SyncPostgrestClient) -> None:
    # PostgREST writes select=count as "public"."items"."count", which PostgreSQL reads as
    # count(items) when there is no such column, so upstream's `select("count").limit(0)`
    # table probe succeeds (an empty page) instead of failing with 42703
    assert client.table("items").select("count").limit(0).execute().data == []
    assert client.table("items").select("count").execute().data == [{"count": 5}]


def test_unique_violation_is_409_with_details(
    client: SyncPostgrestClient, standin: PostgrestStandin
) -> None:
    err = api_error(lambda: client.table("items").insert({"id": 1, "name": "dup"}).execute())
    assert err.json() == {
        "message": 'duplicate key value violates unique constraint "items_pkey"',
        "code": "23505",
        "hint": None,
        "details": "Key (id)=(1) already exists.",
    }
    assert standin.requests[-1].status == 409


def test_untyped_filter_values_are_cast_by_postgres(
    client: SyncPostgrestClient, raw: httpx.Client
) -> None:
    err = api_error(lambda: client.table("items").select("*").eq("id", None).execute())
    assert (err.code, err.message) == ("22P02", 'invalid input syntax for type bigint: "null"')
    assert raw.get("/items", params={"id": "eq.None"}).status_code == 400  # postgrest-py 2.31
    r = raw.get("/items", params={"select": "id", "name": "eq.null"})  # text: the string 'null'
    assert (r.status_code, r.json()) == (200, [])


def test_unknown_write_column_is_pgrst204(client: SyncPostgrestClient, raw: httpx.Client) -> None:
    err = api_error(lambda: client.table("items").insert([{"id": 9, "nope": 1}]).execute())
    assert (err.code, err.message) == (
        "PGRST204",
        "Could not find the 'nope' column of 'items' in the schema cache",
    )
    r = raw.patch("/items?id=eq.1", json={"nope": 1})
    assert (r.status_code, r.json()["code"]) == (400, "PGRST204")


def test_body_errors_are_pgrst102(raw: httpx.Client) -> None:
    r = raw.post("/items", json=[{"id": 8}, {"id": 9, "name": "x"}])  # no columns= param
    assert (r.status_code, r.json()["code"], r.json()["message"]) == (
        400,
        "PGRST102",
        "All object keys must match",
    )
    r = raw.post("/items", content=b"{not json", headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["message"]) == (400, "Empty or invalid json")
    r = raw.post("/items", content=b"")
    assert r.json()["message"] == "Empty or invalid json"


def test_query_parse_errors_are_pgrst100(raw: httpx.Client) -> None:
    r = raw.get("/items", params={"id": "noop.0"})
    assert (r.status_code, r.json()) == (
        400,
        {
            "code": "PGRST100",
            "details": 'unexpected "o" expecting "not" or operator (eq, gt, ...)',
            "hint": None,
            "message": '"failed to parse filter (noop.0)" (line 1, column 1)',
        },
    )
    r = raw.get("/items", params={"order": "id.ac"})
    assert r.json()["message"] == '"failed to parse order (id.ac)" (line 1, column 4)'
    r = raw.get("/items", params={"qty": "is.maybe"})
    assert r.json()["code"] == "PGRST100"
    r = raw.get("/items", params={"or": "(id.eq.1"})
    assert r.json()["code"] == "PGRST100"


def test_embeds_and_aggregates_are_refused(client: SyncPostgrestClient, raw: httpx.Client) -> None:
    err = api_error(lambda: client.table("items").select("id, owner:people(name)").execute())
    assert (err.code, err.message) == (
        "PGRST100",
        "Embedded resources are not supported by this stand-in",
    )
    r = raw.get("/items", params={"select": "count()"})
    assert (r.status_code, r.json()["code"]) == (400, "PGRST123")
    r = raw.get("/items", params={"people.name": "eq.x"})
    assert r.json()["message"] == "'people' is not an embedded resource in this request"


def test_unknown_rpc_is_pgrst202(client: SyncPostgrestClient, sql: Callable[..., None]) -> None:
    err = api_error(lambda: client.rpc("list_tables", {}).execute())
    assert err.json() == {
        "message": "Could not find the function public.list_tables without parameters "
        "in the schema cache",
        "code": "PGRST202",
        "hint": None,
        "details": "Searched for the function public.list_tables without parameters or with "
        "a single unnamed json/jsonb parameter, but no matches were found in the schema cache.",
    }
    sql("CREATE FUNCTION list_table() RETURNS int LANGUAGE sql AS 'SELECT 1'")
    err = api_error(lambda: client.rpc("list_tables", {"b": 1, "a": 2}).execute())
    assert err.message == "Could not find the function public.list_tables(a, b) in the schema cache"
    assert err.hint == "Perhaps you meant to call the function public.list_table"


def test_unexposed_schema_is_pgrst106(client: SyncPostgrestClient) -> None:
    err = api_error(lambda: client.schema("private").table("items").select("*").execute())
    assert err.json() == {
        "message": "Invalid schema: private",
        "code": "PGRST106",
        "hint": "Only the following schemas are exposed: public",
        "details": None,
    }


def test_gateway_requires_the_api_key(standin: PostgrestStandin) -> None:
    r = httpx.get(standin.rest_url + "/items")
    assert (r.status_code, r.json()) == (
        401,
        {
            "message": "No API key found in request",
            "hint": "No `apikey` request header or url param was found.",
        },
    )
    assert "Proxy-Status" not in r.headers
    r = httpx.get(standin.rest_url + "/items", headers={"apikey": "wrong"})
    assert r.json() == {
        "message": "Invalid API key",
        "hint": "Double check your Supabase `anon` or `service_role` API key.",
    }
    r = httpx.get(
        standin.rest_url + "/items", params={"apikey": standin.key, "select": "id", "id": "eq.1"}
    )
    assert (r.status_code, r.json()) == (200, [{"id": 1}])
    assert standin.requests[-1].query == "apikey=<redacted>&select=id&id=eq.1"


def test_bearer_token_must_be_the_key(standin: PostgrestStandin) -> None:
    headers = {"apikey": standin.key, "Authorization": "Bearer some.other.token"}
    with SyncPostgrestClient(standin.rest_url, headers=headers) as client:
        err = api_error(lambda: client.table("items").select("*").execute())
    assert (err.code, err.message) == ("PGRST301", "JWT cryptographic operation failed")
    r = httpx.get(
        standin.rest_url + "/items", headers={"apikey": standin.key, "Authorization": "Bearer abc"}
    )
    assert r.status_code == 401
    assert r.json()["message"] == "Expected 3 parts in JWT; got 1"
    assert (
        r.headers["WWW-Authenticate"]
        == 'Bearer error="invalid_token", error_description="Expected 3 parts in JWT; got 1"'
    )


def test_key_values_are_never_recorded(
    client: SyncPostgrestClient, standin: PostgrestStandin
) -> None:
    client.table("items").select("id").limit(1).execute()
    record = standin.requests[-1]
    assert record.headers["apikey"] == record.headers["authorization"] == "<redacted>"
    assert standin.key not in repr(standin.requests)


def test_root_and_health(standin: PostgrestStandin, raw: httpx.Client) -> None:
    r = httpx.get(standin.url + "/auth/v1/health")
    assert (r.status_code, r.json()["name"]) == (200, "GoTrue")
    r = raw.head("/")
    assert (r.status_code, r.headers["Content-Type"]) == (
        200,
        "application/openapi+json; charset=utf-8",
    )
    r = raw.post("/rpc/x/y")
    assert (r.status_code, r.json()["code"]) == (404, "PGRST125")
    r = raw.patch("/rpc/list_tables", json={})
    assert (r.status_code, r.json()["code"]) == (405, "PGRST101")
    r = httpx.get(standin.url + "/storage/v1/bucket")
    assert (r.status_code, r.json()) == (404, {"message": "no Route matched with those values"})
