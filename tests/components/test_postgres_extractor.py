"""postgres.extractor and supabase.extractor against the real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pyarrow as pa
import pytest

from osiris.components.api import StepError
from testing import db

pytestmark = pytest.mark.db

TRICKY = 'tab\there new\nline back\\slash quote\' "dq" ünï 😀'
UID = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")

EVERY_TYPE = [
    "CREATE TYPE mood AS ENUM ('happy', 'sad')",
    """CREATE TABLE every_type (
      id bigint PRIMARY KEY, i2 smallint, i4 integer NOT NULL, f4 real, f8 double precision,
      price numeric(12,2), wide numeric(40,5), free numeric,
      name varchar(64), code char(3), body text, flag boolean,
      ts timestamp, tstz timestamptz, day date, clock time, span interval,
      doc jsonb, plain json, uid uuid, raw bytea, ints integer[], words text[], addr inet,
      feel mood)""",
    f"""INSERT INTO every_type VALUES (
      1, -32768, 2147483647, 1.5, 2.2250738585072014e-308,
      1234567890.12, 123456789012345678901234567890.12345, 3.14159265358979323846264338327950288,
      $${TRICKY}$$, 'ab', $${TRICKY}$$, true,
      '2024-02-29 23:59:59.999999', '2024-01-02 03:04:05.123456+02', '1999-12-31',
      '12:34:56.654321', '1 day 2 hours', '{{"a": [1, 2.5, "😀"]}}', '{{"b":  1}}', '{UID}',
      '\\x00ff5c', '{{1,2,3}}', '{{a,"b c"}}', '10.0.0.1', 'sad')""",
    "INSERT INTO every_type (id, i4) VALUES (2, 0)",
]

FULL_ROW = {
    "id": 1,
    "i2": -32768,
    "i4": 2147483647,
    "f4": 1.5,
    "f8": 2.2250738585072014e-308,
    "price": Decimal("1234567890.12"),
    "wide": Decimal("123456789012345678901234567890.12345"),
    "free": "3.14159265358979323846264338327950288",
    "name": TRICKY,
    "code": "ab ",
    "body": TRICKY,
    "flag": True,
    "ts": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    "tstz": dt.datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=dt.UTC),
    "day": dt.date(1999, 12, 31),
    "clock": dt.time(12, 34, 56, 654321),
    "span": pa.MonthDayNano([0, 1, 7_200_000_000_000]),
    "doc": '{"a": [1, 2.5, "😀"]}',
    "plain": '{"b":  1}',
    "uid": str(UID),
    "raw": b"\x00\xff\\",
    "ints": [1, 2, 3],
    "words": ["a", "b c"],
    "addr": "10.0.0.1",  # as PostgreSQL prints it (its ::text would add /32)
    "feel": "sad",
}
NULL_ROW = {k: None for k in FULL_ROW} | {"id": 2, "i4": 0}


@pytest.fixture
def every_type(pg):
    db.postgres_execute(pg, *EVERY_TYPE)
    return pg


def extract(tmp_path, conn, component="postgres.extractor", **config):
    return db.run_step(db.step_context(tmp_path, component, config, conn))


def comparable(rows):
    # tz-aware values compare equal whatever their tzinfo object; keep them as they are
    return [{k: v for k, v in r.items()} for r in rows]


def test_table_gives_the_declared_types_with_metadata(tmp_path, every_type):
    table = extract(tmp_path, every_type, table="every_type")
    expected = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            ("i2", pa.int16()),
            pa.field("i4", pa.int32(), nullable=False),
            ("f4", pa.float32()),
            ("f8", pa.float64()),
            ("price", pa.decimal128(12, 2)),
            ("wide", pa.decimal256(40, 5)),
            pa.field("free", pa.string(), metadata={"osiris.type": "numeric"}),
            pa.field("name", pa.string(), metadata={"osiris.max_length": "64"}),
            pa.field("code", pa.string(), metadata={"osiris.max_length": "3"}),
            ("body", pa.string()),
            ("flag", pa.bool_()),
            ("ts", pa.timestamp("us")),
            ("tstz", pa.timestamp("us", "UTC")),
            ("day", pa.date32()),
            ("clock", pa.time64("us")),
            ("span", pa.month_day_nano_interval()),
            pa.field("doc", pa.string(), metadata={"osiris.type": "json"}),
            pa.field("plain", pa.string(), metadata={"osiris.type": "json"}),
            pa.field("uid", pa.string(), metadata={"osiris.type": "uuid"}),
            ("raw", pa.binary()),
            ("ints", pa.list_(pa.int32())),
            ("words", pa.list_(pa.string())),
            pa.field("addr", pa.string(), metadata={"osiris.type": "inet"}),
            pa.field(
                "feel",
                pa.string(),
                metadata={
                    "osiris.type": "enum",
                    "osiris.labels": '["happy", "sad"]',
                    "osiris.enum_type": "mood",
                },
            ),
        ],
        metadata={"osiris.primary_key": '["id"]'},
    )
    assert table.schema.equals(expected, check_metadata=True)
    assert comparable(table.to_pylist()) == [FULL_ROW, NULL_ROW]


def test_query_types_come_from_the_result_description(tmp_path, every_type):
    table = extract(
        tmp_path,
        every_type,
        query="SELECT id, price, uid, doc, addr, price * 2 AS twice FROM every_type ORDER BY id;",
    )
    assert table.schema == pa.schema(
        [
            ("id", pa.int64()),
            ("price", pa.decimal128(12, 2)),
            pa.field("uid", pa.string(), metadata={"osiris.type": "uuid"}),
            pa.field("doc", pa.string(), metadata={"osiris.type": "json"}),
            pa.field("addr", pa.string(), metadata={"osiris.type": "inet"}),
            pa.field("twice", pa.string(), metadata={"osiris.type": "numeric"}),
        ]
    )
    assert table.to_pylist()[0] == {
        "id": 1,
        "price": Decimal("1234567890.12"),
        "uid": str(UID),
        "doc": FULL_ROW["doc"],
        "addr": "10.0.0.1",  # as PostgreSQL prints it (its ::text would add /32)
        "twice": "2469135780.24",
    }


def test_columns_where_incremental_and_batch_size(tmp_path, pg):
    db.postgres_execute(
        pg,
        "CREATE SCHEMA s",
        "CREATE TABLE s.ev (id int PRIMARY KEY, kind text, at timestamptz)",
        "INSERT INTO s.ev SELECT g, CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, "
        "'2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 10) g",
    )
    picked = extract(tmp_path, pg, table="s.ev", columns=["kind", "id"], where="kind = 'a'")
    assert picked.schema.names == ["kind", "id"]
    assert sorted(picked.column("id").to_pylist()) == [2, 4, 6, 8, 10]
    newer = extract(
        tmp_path, pg, table="s.ev", cursor_column="at", since="2024-01-01T07:00:00Z", batch_size=2
    )
    assert newer.column("id").to_pylist() == [8, 9, 10]
    with_schema = {**pg, "schema": "s"}
    assert extract(tmp_path, with_schema, table="ev", cursor_column="id", since=8).num_rows == 2
    queried = extract(tmp_path, with_schema, query="SELECT id FROM ev", cursor_column="id", since=7)
    assert queried.column("id").to_pylist() == [8, 9, 10]

    from osiris.components.postgres.extractor import driver

    ctx = db.step_context(tmp_path, "postgres.extractor", {"table": "s.ev", "batch_size": 4}, pg)
    assert [b.num_rows for b in driver.run(ctx)] == [4, 4, 2]


def test_supabase_extractor_runs_the_postgres_driver(tmp_path, every_type):
    table = extract(
        tmp_path, every_type, "supabase.extractor", table="every_type", columns=["id", "price"]
    )
    assert table.to_pylist() == [
        {"id": 1, "price": Decimal("1234567890.12")},
        {"id": 2, "price": None},
    ]


def test_connection_refused_names_host_and_port_not_the_dsn_password(tmp_path):
    with db.closed_port() as port, pytest.raises(StepError) as err:
        extract(tmp_path, {"dsn": f"postgresql://u:S3cr3t@127.0.0.1:{port}/x"}, table="t")
    assert (err.value.code, err.value.message) == (
        "connection.refused",
        f"PostgreSQL at 127.0.0.1:{port} refused the connection; check that the server is "
        "running and `host`/`port` in the connection",
    )
    assert "S3cr3t" not in str(err.value)


def test_connection_timeout(tmp_path):
    with db.silent_server() as port:
        conn = {**db.POSTGRES, "port": str(port), "password": "S3cr3t"}
        ctx = db.step_context(
            tmp_path, "postgres.extractor", {"table": "t"}, conn, connect_timeout=1
        )
        with pytest.raises(StepError) as err:
            db.run_step(ctx)
    assert (err.value.code, err.value.message) == (
        "connection.timeout",
        f"PostgreSQL at 127.0.0.1:{port} did not answer in time; check `host`/`port`, the "
        "firewall and runner.network.allow",
    )


def test_rejected_login_is_auth_failed(tmp_path, pg):
    # the local server trusts every login from 127.0.0.1, so a role that may not log in stands
    # in for a wrong password
    role = db.unique_name("osiris_r")
    db.postgres_execute(db.POSTGRES, f"CREATE ROLE {role} NOLOGIN PASSWORD 'right-pw'")
    try:
        with pytest.raises(StepError) as err:
            extract(tmp_path, {**pg, "user": role, "password": "wrong-pw"}, table="t")
    finally:
        db.postgres_execute(db.POSTGRES, f"DROP ROLE {role}")
    assert (err.value.code, err.value.message) == (
        "auth.failed",
        f"PostgreSQL at 127.0.0.1:5432 rejected user '{role}' (role \"{role}\" is not permitted "
        "to log in); check `user` and the password variable of the connection",
    )
    assert "wrong-pw" not in str(err.value)


def test_missing_database_table_and_sql_errors(tmp_path, every_type):
    cases = [
        (
            {**every_type, "database": "osiris_no_such_db"},
            {"table": "t"},
            "database.not_found",
            "database 'osiris_no_such_db' does not exist on PostgreSQL at 127.0.0.1:5432; create "
            "it or fix `database` in the connection",
        ),
        (
            every_type,
            {"table": "nope"},
            "table.not_found",
            "table 'public.nope' does not exist on PostgreSQL at 127.0.0.1:5432; check `table` "
            "and the connection's database and schema",
        ),
        (
            every_type,
            {"query": "SELECT * FROM nope"},
            "table.not_found",
            'relation "nope" does not exist; check `table` (or the query) and `schema`',
        ),
        (
            every_type,
            {"query": "SELEC 1"},
            "sql.error",
            'syntax error at or near "SELEC"; fix the query, `columns` or `where`',
        ),
        (
            every_type,
            {"table": "every_type", "where": "nocol = 1"},
            "sql.error",
            'column "nocol" does not exist; fix the query, `columns` or `where`',
        ),
        (
            every_type,
            {"query": "SELECT 1 / (g - 3) FROM generate_series(1, 5) g"},
            "sql.error",
            "PostgreSQL error: division by zero",
        ),
    ]
    for conn, config, code, message in cases:
        with pytest.raises(StepError) as err:
            extract(tmp_path, conn, **config)
        assert (err.value.code, err.value.message) == (code, message)


def test_a_stream_dropped_half_way_closes_its_connection(tmp_path, pg):
    import gc
    import time

    from osiris.components.postgres.extractor import driver

    db.postgres_execute(pg, "CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 200000) g")
    others = (
        "SELECT count(*) FROM pg_stat_activity "
        f"WHERE datname = '{pg['database']}' AND pid <> pg_backend_pid()"
    )
    ctx = db.step_context(tmp_path, "postgres.extractor", {"table": "big", "batch_size": 100}, pg)
    reader = driver.run(ctx)
    assert reader.read_next_batch().num_rows == 100
    assert db.postgres_query(pg, others) == [(1,)]
    del reader
    gc.collect()
    deadline = time.monotonic() + 10  # the server notices the closed connection asynchronously
    while db.postgres_query(pg, others) != [(0,)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert db.postgres_query(pg, others) == [(0,)]


def test_dsn_in_either_form_with_a_schema(tmp_path, pg):
    db.postgres_execute(pg, "CREATE SCHEMA s", "CREATE TABLE s.ev AS SELECT 1 AS id")
    name = pg["database"]
    for dsn in (
        f"postgresql://postgres@127.0.0.1:5432/{name}?sslmode=disable",
        f"host=127.0.0.1 port=5432 user=postgres dbname={name}",
    ):
        table = extract(tmp_path, {"dsn": dsn, "schema": "s"}, query="SELECT id FROM ev")
        assert table.to_pylist() == [{"id": 1}]
