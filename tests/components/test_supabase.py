"""supabase.writer and supabase.extractor on both channels: the project's database (Postgres
protocol) and its REST API (PostgREST, here the stand-in in testing/postgrest_standin over the
same real PostgreSQL). The same tests run on both; faults are REST's own."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from osiris.components.api import StepError
from testing import db
from testing.postgrest_standin import PostgrestStandin, postgres_dsn

pytestmark = pytest.mark.db

TABLE = """
CREATE TABLE t (
  id bigint PRIMARY KEY,
  name varchar(40),
  price numeric(12,2),
  doc jsonb,
  raw bytea,
  day date,
  at timestamp,
  utc timestamptz,
  ok boolean,
  f64 double precision,
  ints integer[]
)
"""
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string(), metadata={"osiris.max_length": "40"}),
        ("price", pa.decimal128(12, 2)),
        pa.field("doc", pa.string(), metadata={"osiris.type": "json"}),
        ("raw", pa.binary()),
        ("day", pa.date32()),
        ("at", pa.timestamp("us")),
        ("utc", pa.timestamp("us", "UTC")),
        ("ok", pa.bool_()),
        ("f64", pa.float64()),
        ("ints", pa.list_(pa.int32())),
    ]
)
FULL = {
    "id": 1,
    "name": 'tab\there "dq" ünï 😀, comma',
    "price": Decimal("-1234567890.12"),
    "doc": '{"k": [1, "x", "😀"], "n": null}',
    "raw": b"\x00\xff\\'\t\n\x80",
    "day": dt.date(1970, 1, 1),
    "at": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    "utc": dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC),
    "ok": True,
    "f64": float("inf"),
    "ints": [1, None, 3],
}
ROWS = [
    FULL,
    {"id": 2} | {k: None for k in SCHEMA.names if k != "id"},
    {**FULL, "id": 3, "f64": float("nan"), "ok": False, "ints": []},
]


@pytest.fixture
def pg() -> Iterator[dict[str, Any]]:
    with db.postgres_database() as conn:
        yield conn


@pytest.fixture(params=["database", "rest"])
def channel(request, pg) -> Iterator[dict[str, Any]]:
    """The fields of a supabase connection to the test database, over either channel."""
    if request.param == "database":
        yield {"url": "https://abcdefghijklmnop.supabase.co", "key": "sb-key", **pg}
        return
    with PostgrestStandin(postgres_dsn(pg)) as standin:
        yield {"url": standin.url, "key": standin.key, "standin": standin}


def connection(channel: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in channel.items() if k != "standin"}


def write(tmp_path, channel, data, batch_rows=2, **config):
    handle = (
        data if isinstance(data, db.ArrowInput) else db.ArrowInput.of(data, batch_rows=batch_rows)
    )
    config = {"table": "t", **config}
    ctx = db.step_context(
        tmp_path, "supabase.writer", config, connection(channel), inputs={"up": handle}
    )
    assert db.run_step(ctx) is None


def extract(tmp_path, channel, **config):
    ctx = db.step_context(tmp_path, "supabase.extractor", config, connection(channel))
    return db.run_step(ctx)


def read_back(pg, sql="SELECT * FROM t ORDER BY id"):
    rows = db.postgres_query(pg, sql)
    return [tuple(_normal(v) for v in row) for row in rows]


def _normal(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, bytes | memoryview):
        return bytes(value)
    return value


def expected(rows):
    out = []
    for row in rows:
        values = []
        for name in SCHEMA.names:
            v = row.get(name)
            if name == "doc" and v is not None:
                v = json.loads(v)
            values.append(_normal(v))
        out.append(tuple(values))
    return out


def test_append_keeps_every_value(tmp_path, channel, pg):
    db.postgres_execute(pg, TABLE)
    write(tmp_path, channel, pa.Table.from_pylist(ROWS, schema=SCHEMA))
    assert read_back(pg) == expected(ROWS)


def test_replace_leaves_exactly_the_input(tmp_path, channel, pg):
    db.postgres_execute(pg, TABLE, "INSERT INTO t (id, name) VALUES (9, 'old'), (1, 'stale')")
    write(tmp_path, channel, pa.Table.from_pylist(ROWS, schema=SCHEMA), write_mode="replace")
    assert read_back(pg) == expected(ROWS)
    write(tmp_path, channel, pa.table({"id": [7], "name": ["x"]}), write_mode="replace")
    assert db.postgres_query(pg, "SELECT id, name FROM t") == [(7, "x")]


def test_upsert_is_idempotent_and_the_last_row_of_a_key_wins(tmp_path, channel, pg):
    db.postgres_execute(pg, TABLE)
    first = pa.table({"id": [1, 2], "name": ["a", "b"]})
    write(tmp_path, channel, first, write_mode="upsert", primary_key="id")
    second = pa.table({"id": [2, 3, 2, 3], "name": ["b1", "c", "b2", "c2"]})
    for _ in range(2):
        # one batch holds key 2 twice: its last row wins
        write(tmp_path, channel, second, batch_rows=4, write_mode="upsert", primary_key=["id"])
        assert db.postgres_query(pg, "SELECT id, name FROM t ORDER BY id") == [
            (1, "a"),
            (2, "b2"),
            (3, "c2"),
        ]


def test_upsert_ignoring_duplicates_keeps_existing_rows(tmp_path, channel, pg):
    db.postgres_execute(pg, TABLE, "INSERT INTO t (id, name) VALUES (1, 'kept')")
    data = pa.table({"id": [1, 2], "name": ["new", "added"]})
    write(
        tmp_path,
        channel,
        data,
        write_mode="upsert",
        primary_key="id",
        prefer="resolution=ignore-duplicates",
    )
    assert db.postgres_query(pg, "SELECT id, name FROM t ORDER BY id") == [
        (1, "kept"),
        (2, "added"),
    ]


def test_a_duplicate_key_is_a_constraint_violation(tmp_path, channel, pg):
    db.postgres_execute(pg, TABLE, "INSERT INTO t (id) VALUES (2)")
    with pytest.raises(StepError) as err:
        write(tmp_path, channel, pa.table({"id": [1, 2]}), batch_rows=1)
    assert err.value.code == "write.constraint_violation"
    assert "duplicate key" in err.value.message


def test_an_unknown_column_is_a_schema_mismatch(tmp_path, channel, pg):
    db.postgres_execute(pg, TABLE)
    with pytest.raises(StepError) as err:
        write(tmp_path, channel, pa.table({"id": [1], "colour": ["red"]}))
    assert err.value.code == "schema.mismatch"
    assert "'colour'" in err.value.message


def test_a_missing_table_needs_the_database_channel(tmp_path, channel, pg):
    data = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    if "standin" not in channel:
        write(tmp_path, channel, data)  # created from the input's schema
        assert read_back(pg) == expected(ROWS)
        return
    with pytest.raises(StepError) as err:
        write(tmp_path, channel, data)
    assert err.value.code == "config.invalid"
    assert "add `pg_dsn`" in err.value.message
    with pytest.raises(StepError) as err:
        write(tmp_path, channel, data, create_if_missing=False)
    assert err.value.code == "table.not_found"


# -- REST only ---------------------------------------------------------------------------------


@pytest.fixture
def rest(pg) -> Iterator[dict[str, Any]]:
    with PostgrestStandin(postgres_dsn(pg)) as standin:
        yield {"url": standin.url, "key": standin.key, "standin": standin}


def posts(standin: PostgrestStandin) -> list[Any]:
    return [r for r in standin.requests if r.method == "POST"]


def test_rest_batches_and_headers(tmp_path, rest, pg):
    db.postgres_execute(pg, TABLE)
    data = pa.table({"id": list(range(1, 26)), "name": [f"n{i}" for i in range(1, 26)]})
    write(tmp_path, rest, data, batch_rows=25, batch_size=10, write_mode="upsert", primary_key="id")
    sent = posts(rest["standin"])
    assert len(sent) == 3  # 10 + 10 + 5 rows
    assert all(r.prefer == ["return=minimal", "resolution=merge-duplicates"] for r in sent)
    assert all(("on_conflict", "id") in r.params for r in sent)
    assert all(r.headers["apikey"] == "<redacted>" for r in sent)  # sent as a header...
    assert all("apikey" not in r.query for r in rest["standin"].requests)  # ...never in a URL
    assert db.postgres_query(pg, "SELECT count(*) FROM t") == [(25,)]


@pytest.mark.parametrize(
    ("fault", "kwargs"),
    [
        ("fail_next", {"status": 429, "times": 2, "retry_after": 0}),
        ("fail_next", {"status": 503, "times": 2}),
        ("drop_next", {"times": 2}),
    ],
    ids=["429", "503", "dropped"],
)
def test_rest_retries_through_faults(tmp_path, rest, pg, fault, kwargs):
    db.postgres_execute(pg, TABLE)
    standin = rest["standin"]
    getattr(standin, fault)(method="POST", **kwargs)
    data = pa.Table.from_pylist(ROWS, schema=SCHEMA)
    write(tmp_path, rest, data, batch_rows=3, write_mode="upsert", primary_key="id")
    assert read_back(pg) == expected(ROWS)
    kind = "status" if fault == "fail_next" else "drop"
    assert [r.fault for r in posts(standin)] == [kind, kind, None]


def test_rest_gives_up_after_its_retries(tmp_path, rest, pg):
    db.postgres_execute(pg, TABLE)
    rest["standin"].fail_next(status=503, times=10, method="POST")
    with pytest.raises(StepError) as err:
        write(tmp_path, rest, pa.table({"id": [1]}), retries=1)
    assert err.value.code == "connection.failed"
    assert "answered 503" in err.value.message
    assert len(posts(rest["standin"])) == 2
    assert db.postgres_query(pg, "SELECT count(*) FROM t") == [(0,)]


def test_rest_wrong_key_is_auth_failed(tmp_path, rest, pg):
    db.postgres_execute(pg, TABLE)
    bad = {**rest, "key": "not-the-key"}
    with pytest.raises(StepError) as err:
        write(tmp_path, bad, pa.table({"id": [1]}))
    assert err.value.code == "auth.failed"
    assert "not-the-key" not in err.value.message


# -- reading ---------------------------------------------------------------------------------


def test_extract_reads_every_row_through_a_row_limit(tmp_path, channel, pg):
    db.postgres_execute(
        pg,
        TABLE,
        "INSERT INTO t (id, name, price, f64) SELECT g, 'n' || g, g / 100.0, g / 3.0 "
        "FROM generate_series(1, 2500) g",
    )
    # pages of 1500 asked, Supabase's row limit (1000) answers: no row is lost or repeated
    table = extract(tmp_path, channel, table="t", batch_size=1500)
    assert table.num_rows == 2500
    assert table.column("id").to_pylist() == list(range(1, 2501))
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("name").metadata == {b"osiris.max_length": b"40"}
    assert json.loads(table.schema.metadata[b"osiris.primary_key"]) == ["id"]
    prices = table.column("price").to_pylist()
    assert Decimal(str(prices[0])) == Decimal("0.01")


def test_extract_values_match_what_was_written(tmp_path, channel, pg):
    db.postgres_execute(pg, TABLE)
    write(tmp_path, channel, pa.Table.from_pylist(ROWS, schema=SCHEMA))
    table = extract(tmp_path, channel, table="t", select="id, name, raw, day, at, utc, ok, ints")
    got = table.to_pylist()
    for row, want in zip(got, ROWS, strict=True):
        for key in ("id", "name", "raw", "day", "at", "utc", "ok", "ints"):
            assert row[key] == want[key], key


QUERIES = [
    ({"select": "id, label:name"}, None),
    ({"filter": {"name": "like.n1*"}, "order": "id.desc", "limit": 3}, None),
    ({"filter": {"id": [2, 4, 6], "name": "not.is.null"}}, None),
    ({"filter": {"id": "gte.5", "price": None}, "order": "name.asc"}, None),
    ({"order": "id.desc", "limit": 2, "offset": 3, "select": "id, price::text"}, None),
]


@pytest.mark.parametrize(("options", "_"), QUERIES)
def test_read_options_mean_the_same_on_both_channels(tmp_path, pg, options, _):
    db.postgres_execute(
        pg,
        TABLE,
        "INSERT INTO t (id, name, price) SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE 'n' || g "
        "END, CASE WHEN g % 3 = 0 THEN NULL ELSE g * 1.5 END FROM generate_series(1, 14) g",
    )
    database = {"url": "https://abcdefghijklmnop.supabase.co", **pg}
    over_db = extract(tmp_path, database, table="t", **options)
    with PostgrestStandin(postgres_dsn(pg)) as standin:
        over_rest = extract(
            tmp_path, {"url": standin.url, "key": standin.key}, table="t", **options
        )
    assert over_rest.column_names == over_db.column_names
    left, right = over_db.to_pylist(), over_rest.to_pylist()
    if "order" not in options:
        left, right = (sorted(rows, key=lambda r: r["id"]) for rows in (left, right))
    assert [{k: _text(v) for k, v in r.items()} for r in right] == [
        {k: _text(v) for k, v in r.items()} for r in left
    ]
    assert len(left) > 0


def _text(value: Any) -> Any:
    return (
        None
        if value is None
        else str(Decimal(str(value)))
        if isinstance(value, float | Decimal)
        else value
    )


def test_rest_cannot_run_sql(tmp_path, rest):
    with pytest.raises(StepError) as err:
        extract(tmp_path, rest, query="select 1")
    assert err.value.code == "config.invalid"
    assert "pg_dsn" in err.value.message
