"""GET/HEAD through the official postgrest client (raw httpx where the client cannot say it)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from postgrest import APIError, SyncPostgrestClient

from testing.postgrest_standin import PostgrestStandin

pytestmark = [pytest.mark.db, pytest.mark.usefixtures("items")]


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [row["id"] for row in rows]


def test_select_star_returns_every_column_in_table_order(client: SyncPostgrestClient) -> None:
    rows = client.table("items").select("*").eq("id", 1).execute().data
    assert rows == [
        {
            "id": 1,
            "name": "apple",
            "qty": 5,
            "price": 1.5,
            "tags": ["red", "fruit"],
            "data": {"color": "red"},
        }
    ]


def test_select_columns_alias_cast_and_json_path(client: SyncPostgrestClient) -> None:
    rows = (
        client.table("items")
        .select("id", "label:name", "price::text", "data->>color")
        .lte("id", 2)
        .order("id")
        .execute()
        .data
    )
    assert rows == [
        {"id": 1, "label": "apple", "price": "1.50", "color": "red"},
        {"id": 2, "label": "banana", "price": "0.25", "color": None},
    ]


def test_select_allows_whitespace_around_items(raw: httpx.Client) -> None:
    r = raw.get("/items", params={"select": " id , alias : name ", "id": "eq.3"})
    assert r.status_code == 200
    assert r.json() == [{"id": 3, "alias": "cherry"}]


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda t: t.eq("name", "banana"), [2]),
        (lambda t: t.neq("name", "banana"), [1, 3, 4, 5]),
        (lambda t: t.gt("qty", 2), [1, 3]),
        (lambda t: t.gte("qty", 2), [1, 3, 5]),
        (lambda t: t.lt("price", 1), [2]),
        (lambda t: t.lte("price", "1.50"), [1, 2]),
        (lambda t: t.like("name", "*pp*"), [1, 5]),  # the server maps * to %
        (lambda t: t.like("name", "A%"), [5]),
        (lambda t: t.ilike("name", "apple*"), [1, 5]),
        (lambda t: t.in_("id", [1, 3, 99]), [1, 3]),
        (lambda t: t.in_("name", ['a,b (odd) "name"', "cherry"]), [3, 4]),
        (lambda t: t.is_("qty", None), [2]),
        (lambda t: t.not_.is_("price", None), [1, 2, 4, 5]),
        (lambda t: t.not_.eq("name", "apple"), [2, 3, 4, 5]),
        (lambda t: t.not_.in_("id", [1, 2]), [3, 4, 5]),
        (lambda t: t.contains("tags", ["fruit"]), [1, 2]),
        (lambda t: t.overlaps("tags", ["baked", "red"]), [1, 5]),
        (lambda t: t.or_("qty.gt.10,price.lt.0.5"), [2, 3]),
        (lambda t: t.or_("id.eq.1,and(qty.gte.2,qty.lte.5,name.not.like.Apple*)"), [1]),
        (lambda t: t.or_('name.eq."a,b (odd) \\"name\\"",id.in.(2,"3")'), [2, 3, 4]),
        (lambda t: t.or_("not.and(id.gt.1,id.lt.5)"), [1, 5]),
        (lambda t: t.eq("qty", 5).eq("name", "apple"), [1]),
    ],
)
def test_filters(client: SyncPostgrestClient, build: Any, expected: list[int]) -> None:
    rows = build(client.table("items").select("id")).order("id").execute().data
    assert ids(rows) == expected


def test_and_param_and_negated_logic_trees(raw: httpx.Client) -> None:
    r = raw.get("/items", params={"select": "id", "and": "(qty.gte.0,qty.lt.10)", "order": "id"})
    assert ids(r.json()) == [1, 4, 5]
    r = raw.get("/items", params={"select": "id", "not.or": "(id.eq.1,id.eq.2)", "order": "id"})
    assert ids(r.json()) == [3, 4, 5]


def test_order_with_nulls_placement_and_several_columns(client: SyncPostgrestClient) -> None:
    t = client.table("items").select("id")
    assert ids(t.order("qty", desc=True, nullsfirst=True).execute().data) == [2, 3, 1, 5, 4]
    t = client.table("items").select("id")
    assert ids(t.order("qty", desc=True, nullsfirst=False).execute().data) == [3, 1, 5, 4, 2]
    t = client.table("items").select("id")
    rows = t.order("price", nullsfirst=True).order("id", desc=True).execute().data
    assert ids(rows) == [3, 2, 1, 4, 5]


def test_limit_offset_and_range(client: SyncPostgrestClient, standin: PostgrestStandin) -> None:
    rows = client.table("items").select("id").order("id").limit(2).offset(1).execute().data
    assert ids(rows) == [2, 3]
    rows = client.table("items").select("id").order("id").range(3, 10).execute().data
    assert ids(rows) == [4, 5]
    assert standin.requests[-1].params[-2:] == [("offset", "3"), ("limit", "8")]


def test_range_header_is_honoured_on_get(raw: httpx.Client) -> None:
    r = raw.get("/items", params={"select": "id", "order": "id"}, headers={"Range": "1-2"})
    assert (r.status_code, ids(r.json())) == (200, [2, 3])
    assert r.headers["Content-Range"] == "1-2/*"
    # Range ∩ limit is empty (rows 3.. and row 0): PostgREST words that as a negative limit
    r = raw.get("/items", params={"limit": "1"}, headers={"Range": "3-"})
    assert r.status_code == 416
    assert r.json()["details"] == "Limit should be greater than or equal to zero."
    r = raw.get("/items", params={"select": "id"}, headers={"Range": "5-2"})
    assert r.status_code == 416
    assert r.json()["details"] == (
        "The lower boundary must be lower than or equal to the upper boundary in the Range header."
    )


def test_count_exact_gives_content_range_and_206(
    raw: httpx.Client, client: SyncPostgrestClient
) -> None:
    r = raw.get("/items", params={"select": "id", "limit": "2", "offset": "2", "order": "id"})
    assert (r.status_code, r.headers["Content-Range"]) == (200, "2-3/*")
    prefer = {"Prefer": "count=exact"}
    r = raw.get("/items", params={"select": "id", "limit": "2", "offset": "2"}, headers=prefer)
    assert (r.status_code, r.headers["Content-Range"]) == (206, "2-3/5")
    assert r.headers["Preference-Applied"] == "count=exact"
    r = raw.get("/items", params={"select": "id"}, headers=prefer)
    assert (r.status_code, r.headers["Content-Range"]) == (200, "0-4/5")
    r = raw.get("/items", params={"id": "gt.100"}, headers=prefer)
    assert (r.status_code, r.headers["Content-Range"], r.json()) == (200, "*/0", [])
    response = client.table("items").select("id", count="exact").limit(1).execute()
    assert (len(response.data), response.count) == (1, 5)


def test_offset_past_the_total_is_416_with_count(raw: httpx.Client) -> None:
    r = raw.get("/items", params={"offset": "30"}, headers={"Prefer": "count=exact"})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == "*/5"
    assert r.json() == {
        "code": "PGRST103",
        "details": "An offset of 30 was requested, but there are only 5 rows.",
        "hint": None,
        "message": "Requested range not satisfiable",
    }
    r = raw.get("/items", params={"offset": "30"})  # without a count the total is unknown
    assert (r.status_code, r.headers["Content-Range"], r.json()) == (200, "*/*", [])


def test_limit_zero_and_negative_limit(raw: httpx.Client) -> None:
    r = raw.get("/items", params={"limit": "0"})
    assert (r.status_code, r.headers["Content-Range"], r.json()) == (200, "*/*", [])
    r = raw.get("/items", params={"limit": "-1"})
    assert r.status_code == 416
    assert r.json()["details"] == "Limit should be greater than or equal to zero."
    r = raw.get("/items", params={"limit": "ten", "select": "id"})  # not a number: ignored
    assert len(r.json()) == 5


def test_head_with_count_has_no_body(client: SyncPostgrestClient, raw: httpx.Client) -> None:
    response = client.table("items").select("*", count="exact", head=True).gt("id", 1).execute()
    assert (response.count, response.data) == (4, [])
    r = raw.head("/items", headers={"Prefer": "count=exact", "Range": "0-0"})  # Range: GET only
    assert (r.status_code, r.headers["Content-Range"], r.content) == (200, "0-4/5", b"")


def test_max_rows_caps_reads_silently(serve: Any) -> None:
    _, http = serve(max_rows=3)
    r = http.get("/items", params={"select": "id", "order": "id"})
    assert (r.status_code, r.headers["Content-Range"], ids(r.json())) == (200, "0-2/*", [1, 2, 3])
    count = {"Prefer": "count=exact"}
    r = http.get("/items", params={"select": "id", "order": "id", "offset": "3"}, headers=count)
    assert (r.status_code, r.headers["Content-Range"], ids(r.json())) == (206, "3-4/5", [4, 5])
    r = http.get("/items", params={"select": "id"}, headers=count)
    assert (r.status_code, r.headers["Content-Range"]) == (206, "0-2/5")


def test_max_rows_none_means_no_cap_and_1000_is_the_default(sql: Any, serve: Any) -> None:
    sql("CREATE TABLE many AS SELECT g AS id FROM generate_series(1, 1500) g")
    _, uncapped = serve(max_rows=None)
    assert len(uncapped.get("/many").json()) == 1500
    _, supabase_default = serve()
    r = supabase_default.get("/many", headers={"Prefer": "count=exact"})
    assert (r.status_code, len(r.json()), r.headers["Content-Range"]) == (206, 1000, "0-999/1500")


def test_single_object(client: SyncPostgrestClient) -> None:
    assert client.table("items").select("id, name").eq("id", 2).single().execute().data == {
        "id": 2,
        "name": "banana",
    }
    with pytest.raises(APIError) as caught:
        client.table("items").select("id").gt("id", 1).single().execute()
    assert (caught.value.code, caught.value.details) == ("PGRST116", "The result contains 4 rows")


def test_response_headers(raw: httpx.Client) -> None:
    r = raw.get(
        "/items",
        params={"select": "id", "order": "id.desc", "limit": "1"},
        headers={"Accept-Profile": "public"},
    )
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["Content-Location"] == "/items?limit=1&order=id.desc&select=id"
    assert r.headers["Content-Profile"] == "public"
    assert r.text == '[{"id":5}]'


def test_body_is_built_by_postgres_json_agg(sql: Any, raw: httpx.Client) -> None:
    sql(
        "CREATE TABLE vals (id int PRIMARY KEY, n numeric, big bigint, f float8, ts timestamptz, "
        "t timestamp, d date, b bytea, j jsonb, js json, arr int[], u uuid, i interval)",
        "INSERT INTO vals VALUES (1, 1.50, 9007199254740993, 'NaN', "
        "'2024-01-02 03:04:05+02', '2024-01-02 03:04:05.120', '2024-01-02', '\\x01ff', "
        """'{"b": 1, "a": [1, 2]}', '{"b":1,  "a":2}', '{1,NULL,3}', """
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 2 hours'), "
        "(2, 12345678901234567890.123456789, -1, 'Infinity', NULL, NULL, NULL, '', '{}', "
        "'null', '{}', NULL, NULL)",
    )
    r = raw.get("/vals", params={"order": "id"})
    assert r.text == (
        '[{"id":1,"n":1.50,"big":9007199254740993,"f":"NaN","ts":"2024-01-02T01:04:05+00:00",'
        '"t":"2024-01-02T03:04:05.12","d":"2024-01-02","b":"\\\\x01ff","j":{"a": [1, 2], "b": 1},'
        '"js":{"b":1,  "a":2},"arr":[1,null,3],"u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",'
        '"i":"1 day 02:00:00"}, \n'
        ' {"id":2,"n":12345678901234567890.123456789,"big":-1,"f":"Infinity","ts":null,"t":null,'
        '"d":null,"b":"\\\\x","j":{},"js":null,"arr":[],"u":null,"i":null}]'
    )
    rows = r.json()
    assert rows[0]["big"] == 2**53 + 1  # not rounded through a float


def test_strip_nulls(client: SyncPostgrestClient, standin: PostgrestStandin) -> None:
    rows = client.table("items").select("id, qty, price").in_("id", [2, 3]).order("id")
    assert rows.strip_nulls().execute().data == [{"id": 2, "price": 0.25}, {"id": 3, "qty": 20}]
    assert (
        standin.requests[-1].headers["accept"] == "application/vnd.pgrst.array+json;nulls=stripped"
    )
