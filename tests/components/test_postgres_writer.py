"""postgres.writer and supabase.writer against the real PostgreSQL server."""

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
UID = "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        ("i8", pa.int8()),
        ("i16", pa.int16()),
        ("i32", pa.int32()),
        ("u32", pa.uint32()),
        ("u64", pa.uint64()),
        ("f32", pa.float32()),
        ("f64", pa.float64()),
        ("price", pa.decimal128(12, 2)),
        ("huge", pa.decimal256(65, 30)),
        pa.field("name", pa.string(), metadata={"osiris.max_length": "80"}),
        ("note", pa.large_string()),
        pa.field("doc", pa.string(), metadata={"osiris.type": "json"}),
        pa.field("uid", pa.string(), metadata={"osiris.type": "uuid"}),
        pa.field("free", pa.string(), metadata={"osiris.type": "numeric"}),
        ("ok", pa.bool_()),
        ("raw", pa.binary()),
        ("day", pa.date32()),
        ("at", pa.timestamp("us")),
        ("at_ms", pa.timestamp("ms")),
        ("utc", pa.timestamp("ns", "UTC")),
        ("clock", pa.time64("us")),
        ("span", pa.month_day_nano_interval()),
        ("ints", pa.list_(pa.int32())),
    ],
    metadata={"osiris.primary_key": '["id"]'},
)
PG_TYPES = [
    ("id", "bigint", True),
    ("i8", "smallint", False),
    ("i16", "smallint", False),
    ("i32", "integer", False),
    ("u32", "bigint", False),
    ("u64", "numeric(20,0)", False),
    ("f32", "real", False),
    ("f64", "double precision", False),
    ("price", "numeric(12,2)", False),
    ("huge", "numeric(65,30)", False),
    ("name", "character varying(80)", False),
    ("note", "text", False),
    ("doc", "jsonb", False),
    ("uid", "uuid", False),
    ("free", "numeric", False),
    ("ok", "boolean", False),
    ("raw", "bytea", False),
    ("day", "date", False),
    ("at", "timestamp without time zone", False),
    ("at_ms", "timestamp(3) without time zone", False),
    ("utc", "timestamp with time zone", False),
    ("clock", "time without time zone", False),
    ("span", "interval", False),
    ("ints", "integer[]", False),
]
FULL = {
    "id": 1,
    "i8": -128,
    "i16": 32767,
    "i32": -2147483648,
    "u32": 4294967295,
    "u64": 18446744073709551615,
    "f32": 1.5,
    "f64": 0.1,
    "price": Decimal("-1234567890.12"),
    "huge": Decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
    "name": "😀 émoji",
    "note": TRICKY,
    "doc": '{"k": [1, "x", "😀"]}',
    "uid": UID,
    "free": "3.14159265358979323846264338327950288",
    "ok": True,
    "raw": b"\x00\xff\\'\t\n\x80",
    "day": dt.date(1970, 1, 1),
    "at": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    "at_ms": dt.datetime(2024, 2, 29, 23, 59, 59, 999000),
    "utc": dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC),
    "clock": dt.time(0, 0, 0, 1),
    "span": pa.MonthDayNano([1, 2, 3_000_000_000]),
    "ints": [1, None, 3],
}
ROWS = [FULL, {"id": 2} | {k: None for k in SCHEMA.names if k != "id"}]


def as_read_by_psycopg(row):
    out = []
    for name in SCHEMA.names:
        v = row[name]
        if v is not None and name == "doc":
            v = {"k": [1, "x", "😀"]}
        elif v is not None and name == "uid":
            v = uuid.UUID(v)
        elif v is not None and name == "free":
            v = Decimal(v)
        elif v is not None and name == "span":
            v = dt.timedelta(days=32, seconds=3)  # 1 month reads back as 30 days
        out.append(v)
    return tuple(out)


def write(tmp_path, conn, data, component="postgres.writer", **config):
    handle = data if isinstance(data, db.ArrowInput) else db.ArrowInput.of(data, batch_rows=2)
    config = {"table": "t", **config}
    ctx = db.step_context(tmp_path, component, config, conn, inputs={"up": handle})
    assert db.run_step(ctx) is None


def columns_of(conn, table="t"):
    return db.postgres_query(
        conn,
        "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
        f"WHERE attrelid = '{table}'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )


def primary_key(conn, table="t"):
    return db.postgres_query(
        conn,
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        f"WHERE conrelid = '{table}'::regclass AND contype = 'p'",
    )


def tables(conn):
    return db.postgres_query(
        conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    )


def test_append_creates_a_faithful_table_and_keeps_every_value(tmp_path, pg):
    write(tmp_path, pg, pa.Table.from_pylist(ROWS, schema=SCHEMA))
    assert columns_of(pg) == PG_TYPES
    assert primary_key(pg) == [("t_pkey", "PRIMARY KEY (id)")]
    got = db.postgres_query(pg, "SELECT * FROM t ORDER BY id")
    assert got == [as_read_by_psycopg(r) for r in ROWS]


def test_append_casts_to_the_types_of_an_existing_table(tmp_path, pg):
    db.postgres_execute(
        pg,
        "CREATE TYPE mood AS ENUM ('happy', 'sad')",
        "CREATE TABLE t (id smallint PRIMARY KEY, uid uuid, addr inet, feel mood, "
        "amount numeric(6,2), at timestamptz, tags text[], codes varchar(4)[], "
        "extra text DEFAULT 'dflt')",
    )
    data = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),
            "uid": [UID, None],
            "addr": ["10.0.0.1", None],
            "feel": ["sad", "happy"],
            "amount": [1.25, None],
            "at": pa.array([dt.datetime(2024, 1, 1, 12), None], pa.timestamp("us")),
            "tags": pa.array([["a", "b"], None], pa.list_(pa.large_string())),
            "codes": pa.array([["x1", None], []], pa.list_(pa.string())),
        }
    )
    write(tmp_path, pg, data)
    assert db.postgres_query(
        pg,
        "SELECT id, uid::text, addr::text, feel::text, amount, at, tags, codes, extra FROM t "
        "ORDER BY id",
    ) == [
        (
            1,
            UID,
            "10.0.0.1/32",
            "sad",
            Decimal("1.25"),
            dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC),
            ["a", "b"],
            ["x1", None],
            "dflt",
        ),
        (2, None, None, "happy", None, None, None, [], "dflt"),
    ]


def test_failed_append_leaves_the_database_as_it_was(tmp_path, pg):
    data = pa.Table.from_pylist([{"id": i, "name": f"n{i}"} for i in range(50)])
    with pytest.raises(db.InjectedFailure):
        write(tmp_path, pg, db.failing_after(data, 2))
    assert tables(pg) == []
    db.postgres_execute(
        pg, "CREATE TABLE t (id bigint, name text)", "INSERT INTO t VALUES (-1, 'kept')"
    )
    with pytest.raises(db.InjectedFailure):
        write(tmp_path, pg, db.failing_after(data, 3))
    assert db.postgres_query(pg, "SELECT * FROM t") == [(-1, "kept")]


def test_replace_swaps_in_a_table_built_from_the_input(tmp_path, pg):
    db.postgres_execute(
        pg, "CREATE TABLE t (id int, old_col text)", "INSERT INTO t VALUES (9, 'x')"
    )
    write(tmp_path, pg, pa.Table.from_pylist(ROWS, schema=SCHEMA), write_mode="replace")
    assert columns_of(pg) == PG_TYPES
    assert primary_key(pg) == [("t_pkey", "PRIMARY KEY (id)")]
    assert db.postgres_query(pg, "SELECT id FROM t ORDER BY id") == [(1,), (2,)]
    write(tmp_path, pg, pa.table({"id": [7]}), write_mode="replace")
    assert db.postgres_query(pg, "SELECT * FROM t") == [(7,)]
    assert tables(pg) == [("t",)]


def test_replace_is_atomic_when_the_input_fails(tmp_path, pg):
    write(tmp_path, pg, pa.Table.from_pylist(ROWS, schema=SCHEMA), write_mode="replace")
    data = pa.Table.from_pylist([{"id": i} for i in range(100)])
    with pytest.raises(db.InjectedFailure):
        write(tmp_path, pg, db.failing_after(data, 4), write_mode="replace")
    assert db.postgres_query(pg, "SELECT * FROM t ORDER BY id") == [
        as_read_by_psycopg(r) for r in ROWS
    ]
    assert tables(pg) == [("t",)]


def test_upsert_is_idempotent_and_the_last_row_of_a_key_wins(tmp_path, pg):
    first = pa.table({"id": [1, 2], "name": ["a", "b"]})
    write(tmp_path, pg, first, write_mode="upsert", primary_key=["id"])
    assert primary_key(pg) == [("t_pkey", "PRIMARY KEY (id)")]
    second = pa.table({"id": [2, 3, 2], "name": ["b1", "c", "b2"]})
    for _ in range(2):
        write(tmp_path, pg, second, write_mode="upsert", primary_key=["id"])
        assert db.postgres_query(pg, "SELECT * FROM t ORDER BY id") == [
            (1, "a"),
            (2, "b2"),
            (3, "c"),
        ]
    keys_only = pa.table({"id": [3, 4]})
    write(tmp_path, pg, keys_only, "supabase.writer", write_mode="upsert", primary_key=["id"])
    assert db.postgres_query(pg, "SELECT id, name FROM t ORDER BY id")[-2:] == [(3, "c"), (4, None)]


def test_upsert_needs_a_unique_key_on_primary_key(tmp_path, pg):
    db.postgres_execute(pg, "CREATE TABLE t (id int, name text)")
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, pa.table({"id": [1]}), write_mode="upsert", primary_key=["id"])
    assert (err.value.code, err.value.message) == (
        "config.invalid",
        "table 'public.t' has no PRIMARY KEY or UNIQUE key on (id), so upsert cannot "
        "match rows; add one or change `primary_key`",
    )


def test_constraint_violations_roll_back_the_whole_run(tmp_path, pg):
    db.postgres_execute(pg, "CREATE TABLE t (id bigint PRIMARY KEY, name text NOT NULL)")
    db.postgres_execute(pg, "INSERT INTO t VALUES (1, 'one')")
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, pa.table({"id": [5, 1], "name": ["five", "again"]}))
    assert (err.value.code, err.value.message) == (
        "write.constraint_violation",
        'duplicate key value violates unique constraint "t_pkey". Key (id)=(1) already exists.; '
        "fix the input rows or the table's constraints",
    )
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, pa.table({"id": [6], "name": pa.array([None], pa.string())}))
    assert (err.value.code, err.value.message) == (
        "write.constraint_violation",
        'null value in column "name" of relation "t" violates not-null constraint; fix the '
        "input rows or the table's constraints",
    )
    assert db.postgres_query(pg, "SELECT * FROM t") == [(1, "one")]
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, pa.table({"id": [1, 1]}), table="fresh", primary_key=["id"])
    assert err.value.code == "write.constraint_violation"
    assert tables(pg) == [("t",)]


def test_values_that_do_not_fit_are_write_failed(tmp_path, pg):
    db.postgres_execute(pg, "CREATE TABLE t (id smallint, name varchar(3))")
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, pa.table({"id": [1], "name": ["toolong"]}))
    assert (err.value.code, err.value.message) == (
        "write.failed",
        "PostgreSQL error 22001: value too long for type character varying(3) (column name)",
    )
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, pa.table({"id": [70000]}))
    assert (err.value.code, err.value.message) == (
        "write.failed",
        "column 'id': Integer value 70000 not in range: -32768 to 32767; the value does not fit "
        "the column's type",
    )


def test_missing_table_unknown_columns_and_unsupported_types(tmp_path, pg):
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, pa.table({"id": [1]}), create_if_missing=False)
    assert (err.value.code, err.value.message) == (
        "table.not_found",
        "table 'public.t' does not exist on PostgreSQL at 127.0.0.1:5432; create it or set "
        "`create_if_missing: true`",
    )
    struct = pa.table({"id": [1], "s": pa.array([{"a": 1}])})
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, struct)
    assert (err.value.code, err.value.message) == (
        "type.unsupported",
        "column 's' has Arrow type struct<a: int64>, which has no PostgreSQL column type; "
        "convert it in a transform step first",
    )
    db.postgres_execute(pg, "CREATE TABLE t (id bigint, b bytea)")
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, pa.table({"id": [1], "nope": ["x"]}))
    assert (err.value.code, err.value.message) == (
        "schema.mismatch",
        "table 'public.t' has no column 'nope'; add the column, or drop it from the input",
    )
    with pytest.raises(StepError) as err:
        write(tmp_path, pg, pa.table({"id": [1], "b": [1.5]}))
    assert (err.value.code, err.value.message) == (
        "type.unsupported",
        "column 'b' holds double, which cannot be written to a bytea column; convert it in a "
        "transform step first",
    )


def test_writes_into_another_schema(tmp_path, pg):
    db.postgres_execute(pg, "CREATE SCHEMA mart")
    write(tmp_path, pg, pa.table({"id": [1]}), schema="mart", write_mode="replace")
    write(tmp_path, pg, pa.table({"id": [2]}), table="mart.t")
    assert db.postgres_query(pg, "SELECT id FROM mart.t ORDER BY id") == [(1,), (2,)]
    assert tables(pg) == []
