"""mysql.extractor against the real MariaDB server: types, options, streaming, errors."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest

from osiris.components.api import StepError
from testing import db

pytestmark = pytest.mark.db

TRICKY = 'tab\there new\nline back\\slash quote\' "dq" ünï 😀'

EVERY_TYPE = """
CREATE TABLE every_type (
  id BIGINT NOT NULL PRIMARY KEY, flag TINYINT(1) NOT NULL,
  i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, u16 SMALLINT UNSIGNED, i24 MEDIUMINT,
  i32 INT, u32 INT UNSIGNED, i64 BIGINT, u64 BIGINT UNSIGNED,
  price DECIMAL(12,2), wide DECIMAL(38,10), huge DECIMAL(65,30), f32 FLOAT, f64 DOUBLE,
  name VARCHAR(64), code CHAR(3), body TEXT, doc JSON,
  raw BLOB, bin4 BINARY(4), vbin VARBINARY(16),
  created DATETIME(6), updated TIMESTAMP(3) NULL, day DATE, at TIME(6), yr YEAR,
  mood ENUM('happy','sad'), tags SET('a','b')
)"""

FULL_ROW = {
    "id": 1,
    "flag": True,
    "i8": -128,
    "u8": 255,
    "i16": -32768,
    "u16": 65535,
    "i24": -8388608,
    "i32": -2147483648,
    "u32": 4294967295,
    "i64": -9223372036854775808,
    "u64": 18446744073709551615,
    "price": Decimal("1234567890.12"),
    "wide": Decimal("1234567890123456789012345678.1234567891"),
    "huge": Decimal("12345678901234567890123456789012345.123456789012345678901234567890"),
    "f32": 1.5,
    "f64": 2.2250738585072014e-308,
    "name": TRICKY,
    "code": "abc",
    "body": TRICKY * 3,
    "doc": '{"a": [1, 2.5, "😀"], "b": null}',
    "raw": b"\x00\xff\\\t\n'",
    "bin4": b"\x01\x02\x03\x04",
    "vbin": b"\xab",
    "created": dt.datetime(2024, 2, 29, 23, 59, 59, 999999),
    "updated": dt.datetime(2024, 1, 2, 3, 4, 5, 123000),
    "day": dt.date(1999, 12, 31),
    "at": dt.time(23, 59, 59, 654321),
    "yr": 2024,
    "mood": "sad",
    "tags": "a,b",
}
NULL_ROW = {k: None for k in FULL_ROW} | {"id": 2, "flag": False}


def insert(conn, table, rows):
    import pymysql

    cols = list(rows[0])
    sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))})"
    my = pymysql.connect(**conn, charset="utf8mb4")
    with my.cursor() as cur:
        cur.executemany(sql, [[r[c] for c in cols] for r in rows])
    my.commit()
    my.close()


@pytest.fixture
def mysql():
    with db.mysql_database() as conn:
        yield conn


@pytest.fixture
def every_type(mysql):
    db.mysql_execute(mysql, EVERY_TYPE)
    insert(mysql, "every_type", [FULL_ROW, NULL_ROW])
    return mysql


def extract(tmp_path, conn, **config):
    return db.run_step(db.step_context(tmp_path, "mysql.extractor", config, conn))


def test_table_gives_the_declared_types_with_metadata(tmp_path, every_type):
    table = extract(tmp_path, every_type, table="every_type")
    expected = [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("flag", pa.bool_(), nullable=False),
        ("i8", pa.int8()),
        ("u8", pa.uint8()),
        ("i16", pa.int16()),
        ("u16", pa.uint16()),
        ("i24", pa.int32()),
        ("i32", pa.int32()),
        ("u32", pa.uint32()),
        ("i64", pa.int64()),
        ("u64", pa.uint64()),
        ("price", pa.decimal128(12, 2)),
        ("wide", pa.decimal128(38, 10)),
        ("huge", pa.decimal256(65, 30)),
        ("f32", pa.float32()),
        ("f64", pa.float64()),
        pa.field("name", pa.string(), metadata={"osiris.max_length": "64"}),
        pa.field("code", pa.string(), metadata={"osiris.max_length": "3"}),
        ("body", pa.string()),
        pa.field("doc", pa.string(), metadata={"osiris.type": "json"}),
        ("raw", pa.binary()),
        ("bin4", pa.binary()),
        ("vbin", pa.binary()),
        ("created", pa.timestamp("us")),
        ("updated", pa.timestamp("us")),
        ("day", pa.date32()),
        ("at", pa.time64("us")),
        ("yr", pa.int16()),
        ("mood", pa.string()),
        ("tags", pa.string()),
    ]
    schema = pa.schema(expected, metadata={"osiris.primary_key": '["id"]'})
    assert table.schema.equals(schema, check_metadata=True)
    assert table.to_pylist() == [FULL_ROW, NULL_ROW]


def test_columns_where_and_incremental_cursor(tmp_path, mysql):
    db.mysql_execute(
        mysql,
        "CREATE TABLE ev (id INT PRIMARY KEY, kind VARCHAR(10), n INT)",
        "INSERT INTO ev VALUES (5, 'a', 50), (1, 'b', 10), (3, 'a', 30), (4, 'b', 40), "
        "(2, 'a', 20)",
    )
    picked = extract(tmp_path, mysql, table="ev", columns=["n", "id"], where="kind = 'a'")
    assert picked.schema.names == ["n", "id"]
    assert sorted(picked.to_pylist(), key=lambda r: r["id"]) == [
        {"n": 20, "id": 2},
        {"n": 30, "id": 3},
        {"n": 50, "id": 5},
    ]
    newer = extract(tmp_path, mysql, table=f"{mysql['database']}.ev", cursor_column="id", since=2)
    assert newer.column("id").to_pylist() == [3, 4, 5]
    first_run = extract(tmp_path, mysql, table="ev", cursor_column="id")
    assert first_run.column("id").to_pylist() == [1, 2, 3, 4, 5]
    text_cursor = extract(
        tmp_path, mysql, query="SELECT id, kind FROM ev", cursor_column="kind", since="a"
    )
    assert sorted(text_cursor.column("id").to_pylist()) == [1, 4]


def test_query_uses_the_driver_types_and_streams_batch_size_rows(tmp_path, mysql):
    db.mysql_execute(
        mysql,
        "CREATE TABLE n (id INT, v DECIMAL(6,2), b VARBINARY(4))",
        "INSERT INTO n VALUES " + ", ".join(f"({i}, {i}.5, 'x')" for i in range(10)),
    )
    ctx = db.step_context(
        tmp_path,
        "mysql.extractor",
        {"query": "SELECT * FROM n ORDER BY id;", "batch_size": 3},
        mysql,
    )
    from osiris.components.mysql.extractor import driver

    reader = driver.run(ctx)
    sizes = [batch.num_rows for batch in reader]
    assert sizes == [3, 3, 3, 1]
    table = extract(tmp_path, mysql, query="SELECT id, v, b FROM n WHERE id = 7")
    assert table.schema == pa.schema(
        [("id", pa.int32()), ("v", pa.decimal128(38, 10)), ("b", pa.binary())]
    )
    assert table.to_pylist() == [{"id": 7, "v": Decimal("7.5"), "b": b"x"}]


def test_empty_result_has_the_schema_and_no_rows(tmp_path, every_type):
    table = extract(tmp_path, every_type, table="every_type", where="1 = 0")
    assert table.num_rows == 0
    assert table.schema.field("price").type == pa.decimal128(12, 2)


def test_json_reads_as_text_tagged_json(tmp_path, every_type):
    table = extract(tmp_path, every_type, table="every_type", columns=["doc"], where="id = 1")
    assert json.loads(table.column("doc")[0].as_py()) == {"a": [1, 2.5, "😀"], "b": None}


def test_time_outside_one_day_is_type_unsupported(tmp_path, mysql):
    db.mysql_execute(
        mysql, "CREATE TABLE d (t TIME)", "INSERT INTO d VALUES ('12:00:00'), ('-01:30:00')"
    )
    with pytest.raises(StepError) as err:
        extract(tmp_path, mysql, table="d")
    assert err.value.code == "type.unsupported"
    assert err.value.message == (
        "column 't' holds TIME value '-01:30:00', outside 00:00:00-23:59:59 that an Arrow time "
        "can hold; read it with a `query` as CAST(t AS CHAR)"
    )


def test_unsupported_column_type_names_the_way_out(tmp_path, mysql):
    db.mysql_execute(mysql, "CREATE TABLE g (id INT, p POINT)")
    with pytest.raises(StepError) as err:
        extract(tmp_path, mysql, table="g")
    assert err.value.code == "type.unsupported"
    assert err.value.message == (
        "column 'p' of table 'g' has type point, which Osiris cannot read; leave it out with "
        "`columns`, or convert it in a `query`"
    )
    assert extract(tmp_path, mysql, table="g", columns=["id"]).num_rows == 0


def test_connection_refused_names_host_and_port(tmp_path):
    with db.closed_port() as port, pytest.raises(StepError) as err:
        extract(tmp_path, {**db.MYSQL, "port": port, "database": "x"}, table="t")
    assert err.value.code == "connection.refused"
    assert err.value.message == (
        f"MySQL at 127.0.0.1:{port} refused the connection; check that the server is running "
        "and `host`/`port` in the connection"
    )


def test_connection_timeout_honours_connect_timeout(tmp_path):
    with db.silent_server() as port:
        ctx = db.step_context(
            tmp_path,
            "mysql.extractor",
            {"table": "t"},
            {**db.MYSQL, "port": str(port), "database": "x"},
            connect_timeout=0.5,
        )
        with pytest.raises(StepError) as err:
            db.run_step(ctx)
    assert err.value.code == "connection.timeout"
    assert err.value.message == (
        f"MySQL at 127.0.0.1:{port} did not answer within 0.5s; check `host`/`port`, the "
        "firewall and runner.network.allow"
    )


def test_wrong_password_is_auth_failed_without_the_password(tmp_path, mysql):
    with db.mysql_user("right-pw-123") as user:
        conn = {**mysql, "user": user, "password": "wrong-pw-456"}
        with pytest.raises(StepError) as err:
            extract(tmp_path, conn, table="t")
    assert err.value.code == "auth.failed"
    assert err.value.message == (
        f"MySQL at 127.0.0.1:3306 rejected user '{user}' (access denied); check `user` and the "
        "password variable of the connection"
    )
    assert "wrong-pw-456" not in str(err.value)


def test_missing_table_and_database(tmp_path, mysql):
    name = mysql["database"]
    with pytest.raises(StepError) as err:
        extract(tmp_path, mysql, table="nope")
    assert (err.value.code, err.value.message) == (
        "table.not_found",
        f"table '{name}.nope' does not exist on MySQL at 127.0.0.1:3306; check `table` and the "
        "connection's database",
    )
    with pytest.raises(StepError) as err:
        extract(tmp_path, mysql, query="SELECT * FROM nope")
    assert (err.value.code, err.value.message) == (
        "table.not_found",
        f"Table '{name}.nope' doesn't exist; check `table` or the query",
    )
    with pytest.raises(StepError) as err:
        extract(tmp_path, {**mysql, "database": "osiris_no_such_db"}, table="t")
    assert (err.value.code, err.value.message) == (
        "database.not_found",
        "database 'osiris_no_such_db' does not exist on MySQL at 127.0.0.1:3306; create it or "
        "fix `database` in the connection",
    )


def test_sql_errors_quote_the_users_sql(tmp_path, every_type):
    with pytest.raises(StepError) as err:
        extract(tmp_path, every_type, query="SELEC 1")
    assert err.value.code == "sql.error"
    assert err.value.message.startswith("You have an error in your SQL syntax;")
    assert err.value.message.endswith(
        "near 'SELEC 1' at line 1; fix the query, `columns` or `where`"
    )
    with pytest.raises(StepError) as err:
        extract(tmp_path, every_type, table="every_type", where="nocol = 1")
    assert (err.value.code, err.value.message) == (
        "sql.error",
        "Unknown column 'nocol' in 'WHERE'; fix the query, `columns` or `where`",
    )
    with pytest.raises(StepError) as err:
        extract(tmp_path, every_type, table="every_type", columns=["id", "nope"])
    assert (err.value.code, err.value.message) == (
        "sql.error",
        f"table '{every_type['database']}.every_type' has no column 'nope'; its columns are "
        + ", ".join(FULL_ROW),
    )


def test_config_needs_exactly_one_source(tmp_path, mysql):
    with pytest.raises(StepError) as err:
        extract(tmp_path, mysql, table="a", query="SELECT 1")
    assert (err.value.code, err.value.message) == (
        "config.invalid",
        "set exactly one of `table` and `query`",
    )
