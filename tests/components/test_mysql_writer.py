"""mysql.writer against the real MariaDB server: DDL, write modes, atomicity, errors."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest

from osiris.components.api import StepError
from testing import db

pytestmark = pytest.mark.db

TRICKY = 'tab\there new\nline back\\slash quote\' "dq" ünï 😀 nul\x00end'
LABELS = '["it\'s", "a,b", "ünï"]'  # an enum's labels, as an extractor tags them
SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("name", pa.string(), metadata={"osiris.max_length": "80"}),
        ("note", pa.string()),
        pa.field("doc", pa.string(), metadata={"osiris.type": "json"}),
        ("price", pa.decimal128(12, 2)),
        ("ratio", pa.float64()),
        ("small", pa.float32()),
        ("ok", pa.bool_()),
        ("u", pa.uint64()),
        ("at", pa.timestamp("us")),
        ("utc", pa.timestamp("ns", "UTC")),
        ("day", pa.date32()),
        ("clock", pa.time64("us")),
        ("raw", pa.binary()),
        ("span", pa.duration("us")),
        ("tags", pa.list_(pa.string())),
        pa.field("mood", pa.string(), metadata={"osiris.type": "enum", "osiris.labels": LABELS}),
        pa.field("flags", pa.string(), metadata={"osiris.type": "set", "osiris.labels": '["a"]'}),
    ],
    metadata={"osiris.primary_key": '["id"]'},
)
ROWS = [
    {
        "id": 1,
        "name": "😀 émoji",
        "note": TRICKY,
        "doc": '{"k": [1, "x"]}',
        "price": Decimal("-1234567890.12"),
        "ratio": 0.1,
        "small": 1.5,
        "ok": True,
        "u": 18446744073709551615,
        "at": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
        "utc": dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC),
        "day": dt.date(1970, 1, 1),
        "clock": dt.time(0, 0, 0, 1),
        "raw": b"\x00\xff\\'\t\n\x80",
        "span": -dt.timedelta(hours=838, minutes=59, seconds=59, microseconds=5),
        "tags": ["x", TRICKY, None],
        "mood": "it's",
        "flags": "a",
    },
    {"id": 2} | {k: None for k in SCHEMA.names if k != "id"},
    {"id": 3, "name": "", "note": "NULL", "ok": False, "raw": b""}
    | {k: None for k in ("doc", "price", "ratio", "small", "u", "at", "utc", "day", "clock")}
    | {"span": dt.timedelta(hours=25), "tags": [], "mood": "a,b", "flags": ""},
]
MYSQL_TYPES = [
    ("id", "bigint(20)", "NO"),
    ("name", "varchar(80)", "YES"),
    ("note", "longtext", "YES"),
    ("doc", "longtext", "YES"),
    ("price", "decimal(12,2)", "YES"),
    ("ratio", "double", "YES"),
    ("small", "float", "YES"),
    ("ok", "tinyint(1)", "YES"),
    ("u", "bigint(20) unsigned", "YES"),
    ("at", "datetime(6)", "YES"),
    ("utc", "datetime(6)", "YES"),
    ("day", "date", "YES"),
    ("clock", "time(6)", "YES"),
    ("raw", "longblob", "YES"),
    ("span", "time(6)", "YES"),
    ("tags", "longtext", "YES"),  # MariaDB's JSON is LONGTEXT with a JSON_VALID check
    ("mood", "enum('it''s','a,b','ünï')", "YES"),
    ("flags", "set('a')", "YES"),
]


def table_of(rows, schema=SCHEMA):
    return pa.Table.from_pylist(rows, schema=schema)


def write(tmp_path, conn, data, **config):
    handle = data if isinstance(data, db.ArrowInput) else db.ArrowInput.of(data, batch_rows=2)
    ctx = db.step_context(
        tmp_path, "mysql.writer", {"table": "t", **config}, conn, inputs={"up": handle}
    )
    assert db.run_step(ctx) is None


def read(conn, table="t"):
    return db.mysql_query(conn, f"SELECT * FROM {table} ORDER BY id")


def expected_rows(rows):
    """What PyMySQL reads back: booleans as 1/0, UTC timestamps naive, TIME as timedelta."""

    def value(name, v):
        if v is None:
            return None
        if name == "ok":
            return int(v)
        if name == "utc":
            return v.replace(tzinfo=None)
        if name == "tags":
            return json.dumps(v, ensure_ascii=False)
        if name == "clock":
            return dt.timedelta(hours=v.hour, minutes=v.minute, seconds=v.second) + dt.timedelta(
                microseconds=v.microsecond
            )
        return v

    return [tuple(value(k, r.get(k)) for k in SCHEMA.names) for r in rows]


def other_tables(conn):
    return sorted(r[0] for r in db.mysql_query(conn, "SHOW TABLES") if r[0] != "t")


@pytest.mark.parametrize("load_method", ["auto", "insert"])
def test_append_creates_a_faithful_table_and_keeps_every_value(tmp_path, mysql, load_method):
    write(tmp_path, mysql, table_of(ROWS), load_method=load_method)
    columns = db.mysql_query(
        mysql,
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS "
        f"WHERE TABLE_SCHEMA = '{mysql['database']}' AND TABLE_NAME = 't' "
        "ORDER BY ORDINAL_POSITION",
    )
    assert columns == MYSQL_TYPES
    keys = db.mysql_query(mysql, "SHOW KEYS FROM t WHERE Key_name = 'PRIMARY'")
    assert [k[4] for k in keys] == ["id"]
    assert read(mysql) == expected_rows(ROWS)
    # the JSON column is valid JSON to the server
    assert db.mysql_query(mysql, "SELECT JSON_EXTRACT(doc, '$.k[1]') FROM t WHERE id = 1") == [
        ('"x"',)
    ]


def test_append_adds_rows_to_an_existing_table_by_column_name(tmp_path, mysql):
    db.mysql_execute(
        mysql,
        "CREATE TABLE t (extra VARCHAR(5) DEFAULT 'dflt', ok TINYINT(1), id INT PRIMARY KEY)",
        "INSERT INTO t (id, ok) VALUES (100, 1)",
    )
    data = pa.table({"id": pa.array([1, 2], pa.int64()), "ok": [False, None]})
    write(tmp_path, mysql, data)
    write(tmp_path, mysql, pa.table({"id": pa.array([3], pa.int64()), "ok": [True]}))
    assert db.mysql_query(mysql, "SELECT id, ok, extra FROM t ORDER BY id") == [
        (1, 0, "dflt"),
        (2, None, "dflt"),
        (3, 1, "dflt"),
        (100, 1, "dflt"),
    ]


def test_failed_append_leaves_nothing_behind(tmp_path, mysql):
    data = pa.table({"id": pa.array(range(50), pa.int64()), "name": [f"n{i}" for i in range(50)]})
    with pytest.raises(db.InjectedFailure):
        write(tmp_path, mysql, db.failing_after(data, 2))
    assert db.mysql_query(mysql, "SHOW TABLES") == []

    db.mysql_execute(mysql, "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT)")
    db.mysql_execute(mysql, "INSERT INTO t VALUES (-1, 'kept')")
    with pytest.raises(db.InjectedFailure):
        write(tmp_path, mysql, db.failing_after(data, 3))
    assert db.mysql_query(mysql, "SELECT id, name FROM t") == [(-1, "kept")]


def test_replace_swaps_in_the_new_rows(tmp_path, mysql):
    db.mysql_execute(
        mysql, "CREATE TABLE t (id INT, old_col TEXT)", "INSERT INTO t VALUES (9, 'x')"
    )
    write(tmp_path, mysql, table_of(ROWS[:2]), write_mode="replace")
    assert read(mysql) == expected_rows(ROWS[:2])
    write(tmp_path, mysql, table_of(ROWS[2:]), write_mode="replace")
    assert read(mysql) == expected_rows(ROWS[2:])
    assert other_tables(mysql) == []


def test_replace_is_atomic_when_the_input_fails(tmp_path, mysql):
    write(tmp_path, mysql, table_of(ROWS), write_mode="replace")
    data = table_of([{"id": i, "name": f"n{i}"} for i in range(100)])
    with pytest.raises(db.InjectedFailure):
        write(tmp_path, mysql, db.failing_after(data, 4), write_mode="replace")
    assert read(mysql) == expected_rows(ROWS)
    assert other_tables(mysql) == []


@pytest.mark.parametrize("load_method", ["auto", "insert"])
def test_upsert_is_idempotent_and_the_last_row_of_a_key_wins(tmp_path, mysql, load_method):
    first = table_of([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    write(tmp_path, mysql, first, write_mode="upsert", primary_key=["id"], load_method=load_method)
    second = table_of([{"id": 2, "name": "b1"}, {"id": 3, "name": "c"}, {"id": 2, "name": "b2"}])
    for _ in range(2):
        write(
            tmp_path,
            mysql,
            second,
            write_mode="upsert",
            primary_key=["id"],
            load_method=load_method,
        )
        assert db.mysql_query(mysql, "SELECT id, name FROM t ORDER BY id") == [
            (1, "a"),
            (2, "b2"),
            (3, "c"),
        ]


def test_upsert_needs_a_unique_key_on_primary_key(tmp_path, mysql):
    db.mysql_execute(mysql, "CREATE TABLE t (id INT, name TEXT)")
    with pytest.raises(StepError) as err:
        write(tmp_path, mysql, pa.table({"id": [1]}), write_mode="upsert", primary_key=["id"])
    assert (err.value.code, err.value.message) == (
        "config.invalid",
        f"table '{mysql['database']}.t' has no PRIMARY KEY or UNIQUE key on (id), so upsert "
        "cannot match rows; add one or change `primary_key`",
    )


@pytest.mark.parametrize("load_method", ["auto", "insert"])
def test_constraint_violations_roll_back_the_whole_run(tmp_path, mysql, load_method):
    db.mysql_execute(mysql, "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT NOT NULL)")
    db.mysql_execute(mysql, "INSERT INTO t VALUES (1, 'one')")
    dup = pa.table({"id": pa.array([5, 1], pa.int64()), "name": ["five", "again"]})
    with pytest.raises(StepError) as err:
        write(tmp_path, mysql, dup, load_method=load_method)
    assert (err.value.code, err.value.message) == (
        "write.constraint_violation",
        "Duplicate entry '1' for key 'PRIMARY'; fix the input rows or the table's constraints",
    )
    null = pa.table({"id": pa.array([6], pa.int64()), "name": pa.array([None], pa.string())})
    with pytest.raises(StepError) as err:
        write(tmp_path, mysql, null, load_method=load_method)
    assert err.value.code == "write.constraint_violation"
    assert db.mysql_query(mysql, "SELECT id, name FROM t") == [(1, "one")]


def test_value_too_long_is_write_failed(tmp_path, mysql):
    db.mysql_execute(mysql, "CREATE TABLE t (id BIGINT, name VARCHAR(3))")
    with pytest.raises(StepError) as err:
        write(tmp_path, mysql, pa.table({"id": [1], "name": ["toolong"]}))
    assert (err.value.code, err.value.message) == (
        "write.failed",
        "Data truncated for column 'name' at row 1; the value does not fit the column's type",
    )


def test_missing_table_and_unknown_columns(tmp_path, mysql):
    data = pa.table({"id": [1], "nope": ["x"]})
    with pytest.raises(StepError) as err:
        write(tmp_path, mysql, data, create_if_missing=False)
    assert (err.value.code, err.value.message) == (
        "table.not_found",
        f"table '{mysql['database']}.t' does not exist on MySQL at 127.0.0.1:3306; create it "
        "or set `create_if_missing: true`",
    )
    db.mysql_execute(mysql, "CREATE TABLE t (id BIGINT)")
    with pytest.raises(StepError) as err:
        write(tmp_path, mysql, data)
    assert (err.value.code, err.value.message) == (
        "schema.mismatch",
        f"table '{mysql['database']}.t' has no column 'nope'; add the column, or drop it from "
        "the input",
    )


def test_values_mysql_cannot_hold_are_type_unsupported(tmp_path, mysql):
    with pytest.raises(StepError) as err:
        write(tmp_path, mysql, pa.table({"id": [1], "x": pa.array([{"a": 1}])}))
    assert (err.value.code, err.value.message) == (
        "type.unsupported",
        "column 'x' has Arrow type struct<a: int64>, which has no MySQL column type; convert "
        "it in a transform step first",
    )
    with pytest.raises(StepError) as err:
        write(tmp_path, mysql, pa.table({"id": [1, 2], "f": [1.0, float("nan")]}))
    assert (err.value.code, err.value.message) == (
        "type.unsupported",
        "column 'f' holds NaN or infinity, which MySQL cannot store; filter or replace those "
        "values first",
    )


def test_refused_connection(tmp_path):
    with db.closed_port() as port, pytest.raises(StepError) as err:
        write(tmp_path, {**db.MYSQL, "port": port, "database": "x"}, pa.table({"id": [1]}))
    assert err.value.code == "connection.refused"


def test_a_server_refusing_local_infile_gets_inserts(tmp_path, mysql):
    from osiris.components.mysql._conn import connect, server
    from osiris.components.mysql._load import load

    # a client without LOCAL INFILE support is refused exactly like a server with it disabled
    db.mysql_execute(mysql, "CREATE TABLE t (id BIGINT, name TEXT)")
    srv = server(mysql, 5, "mysql.writer")
    data = pa.table({"id": [1, 2], "name": ["a", TRICKY]})
    conn = connect(srv, local_infile=False)
    try:
        used = load(conn, srv, "t", data.to_reader(), method="auto", scratch=tmp_path)
        assert used == "insert"
        with pytest.raises(StepError) as err:
            load(conn, srv, "t", data.to_reader(), method="load_data", scratch=tmp_path)
        conn.commit()
    finally:
        conn.close()
    assert err.value.code == "write.failed"
    assert err.value.message.startswith(
        "MySQL at 127.0.0.1:3306 does not allow LOAD DATA LOCAL INFILE ("
    )
    assert err.value.message.endswith("); set `load_method: insert` or enable local_infile")
    assert db.mysql_query(mysql, "SELECT id, name FROM t ORDER BY id") == [(1, "a"), (2, TRICKY)]
