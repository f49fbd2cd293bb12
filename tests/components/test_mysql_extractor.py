"""mysql.extractor against the real MariaDB server: types, options, streaming, errors."""

from __future__ import annotations

import datetime as dt
import json
import struct
from decimal import Decimal

import pyarrow as pa
import pytest

from osiris.components.api import StepError
from osiris.components.mysql._types import _column
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
    "at": dt.timedelta(hours=23, minutes=59, seconds=59, microseconds=654321),
    "yr": 2024,
    "mood": "sad",
    "tags": "a,b",
}
NULL_ROW = {k: None for k in FULL_ROW} | {"id": 2, "flag": False}


@pytest.fixture
def every_type(mysql):
    db.mysql_execute(mysql, EVERY_TYPE)
    db.mysql_insert(mysql, "every_type", [FULL_ROW, NULL_ROW])
    return mysql


def extract(tmp_path, conn, **config):
    return db.run_step(db.step_context(tmp_path, "mysql.extractor", config, conn))


def LABELLED(kind, labels):
    return {b"osiris.type": kind.encode(), b"osiris.labels": json.dumps(labels).encode()}


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
        ("at", pa.duration("us")),
        ("yr", pa.int16()),
        pa.field("mood", pa.string(), metadata=LABELLED("enum", ["happy", "sad"])),
        pa.field("tags", pa.string(), metadata=LABELLED("set", ["a", "b"])),
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


@pytest.mark.parametrize("batch_size", [1, 25_000], ids=["connectorx", "small-table"])
def test_a_small_table_reads_the_same_through_pymysql(tmp_path, every_type, spy, batch_size):
    # a table that fits in one batch is read on the open connection (no GIL held while the
    # server answers); FLOAT travels as rounded text there, so such a table does not
    db.mysql_execute(every_type, "ALTER TABLE every_type DROP COLUMN f32")
    table = extract(tmp_path, every_type, table="every_type", batch_size=batch_size)
    assert bool(spy.sql) == (batch_size == 1)
    assert table.to_pylist() == [
        {k: v for k, v in row.items() if k != "f32"} for row in (FULL_ROW, NULL_ROW)
    ]
    spy.forget()
    table = extract(tmp_path, every_type, table="every_type", where="id = 2", batch_size=batch_size)
    assert table.to_pylist() == [{k: v for k, v in NULL_ROW.items() if k != "f32"}]


def test_json_reads_as_text_tagged_json(tmp_path, every_type):
    table = extract(tmp_path, every_type, table="every_type", columns=["doc"], where="id = 1")
    assert json.loads(table.column("doc")[0].as_py()) == {"a": [1, 2.5, "😀"], "b": None}


def test_time_reads_as_a_signed_duration_beyond_one_day(tmp_path, mysql):
    # MySQL's TIME is a span of -838:59:59 to 838:59:59, not only a time of day
    db.mysql_execute(
        mysql,
        "CREATE TABLE d (id INT, t TIME(6))",
        "INSERT INTO d VALUES (1, '12:00:00'), (2, '-01:30:00.25'), (3, '838:59:59'),"
        " (4, '-838:59:59.999999'), (5, NULL), (6, '00:00:00.000001')",
    )
    table = extract(tmp_path, mysql, table="d")
    assert table.schema.field("t").type == pa.duration("us")
    assert table.column("t").to_pylist() == [
        dt.timedelta(hours=12),
        -dt.timedelta(hours=1, minutes=30, microseconds=250000),
        dt.timedelta(hours=838, minutes=59, seconds=59),
        -dt.timedelta(hours=838, minutes=59, seconds=59, microseconds=999999),
        None,
        dt.timedelta(microseconds=1),
    ]


def test_enum_and_set_labels_keep_quotes_and_order(tmp_path, mysql):
    db.mysql_execute(mysql, "CREATE TABLE e (m ENUM('z''s', 'a,b', 'b'), s SET('x', 'y'))")
    schema = extract(tmp_path, mysql, table="e").schema
    assert json.loads(schema.field("m").metadata[b"osiris.labels"]) == ["z's", "a,b", "b"]
    assert schema.field("s").metadata == LABELLED("set", ["x", "y"])


def test_spatial_columns_read_as_wkb(tmp_path, mysql):
    db.mysql_execute(
        mysql,
        "CREATE TABLE g (id INT, p POINT, shape GEOMETRY)",
        "INSERT INTO g VALUES (1, POINT(1.5, -2), ST_GeomFromText('LINESTRING(0 0, 1 1)')),"
        " (2, NULL, NULL)",
    )
    table = extract(tmp_path, mysql, table="g")
    assert table.schema.field("p").type == pa.binary()
    assert table.schema.field("p").metadata == {b"osiris.type": b"geometry"}
    # WKB: byte order 1 (little endian), type 1 (point), x, y
    assert table.column("p").to_pylist() == [struct.pack("<BIdd", 1, 1, 1.5, -2.0), None]
    assert table.column("shape")[0].as_py() == struct.pack("<BII4d", 1, 2, 2, 0, 0, 1, 1)


def test_a_type_osiris_cannot_read_names_the_way_out():
    # a type no MariaDB here has (VECTOR came in 11.7), as information_schema describes it
    row = ("v", "vector", "vector(3)", "YES", None, None, None)
    col = _column(row, set(), "g")
    assert col.unsupported == (
        "column 'v' of table 'g' has type vector(3), which Osiris cannot read; leave it out "
        "with `columns`, or convert it in a `query`"
    )


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


# --- reading a table in key ranges -----------------------------------------------------------

RANGE_TABLE = """
CREATE TABLE r (
  id {key} NOT NULL PRIMARY KEY, n INT, price DECIMAL(12,2), huge DECIMAL(65,30),
  at TIME(6), doc JSON, body TEXT
)"""
BIG = 2**63
SPARSE = [-BIG, -(10**15), -7, -1, 0, 1, 2, 3, *range(1000, 1100), *range(10**12, 10**12 + 300)]


class ReadSpy:
    """Passes connectorx.read_sql through, recording each query, the rows it returned, and how
    many of its streams were open (started and not yet read to the end) at any time."""

    def __init__(self, real):
        self.real = real
        self.sql: list[str] = []
        self.rows: list[int] = []
        self.open = 0
        self.most_open = 0

    def __call__(self, url, sql, **kwargs):
        raw = self.real(url, sql, **kwargs)
        self.sql.append(sql)
        self.rows.append(0)
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        return pa.RecordBatchReader.from_batches(raw.schema, self._count(raw, len(self.rows) - 1))

    def forget(self):
        self.sql.clear()
        self.rows.clear()

    def _count(self, raw, i):
        for batch in raw:
            self.rows[i] += batch.num_rows
            yield batch
        self.open -= 1


@pytest.fixture
def spy(monkeypatch):
    import connectorx

    spy = ReadSpy(connectorx.read_sql)
    monkeypatch.setattr(connectorx, "read_sql", spy)
    return spy


def range_rows(keys):
    return [
        {
            "id": k,
            "n": k % 7 if k % 5 else None,
            "price": Decimal(f"{k % 100000}.{abs(k) % 100:02d}"),
            "huge": Decimal(f"{k}.{abs(k) % 997:030d}"),
            "at": dt.timedelta(
                hours=abs(k) % 24, minutes=30, seconds=15, microseconds=abs(k) % 10**6
            ),
            "doc": json.dumps({"k": k}),
            "body": TRICKY if k % 2 else None,
        }
        for k in keys
    ]


def make_range_table(conn, keys, key="BIGINT"):
    db.mysql_execute(conn, RANGE_TABLE.format(key=key))
    rows = range_rows(keys)
    for i in range(0, len(rows), 500):  # shuffled insert order: key order must come from the read
        db.mysql_insert(conn, "r", rows[i : i + 500][::-1])
    return sorted(rows, key=lambda r: r["id"])


@pytest.mark.parametrize(
    ("key", "keys"),
    [
        ("BIGINT", range(1, 1001)),
        ("BIGINT", [*SPARSE, BIG - 1]),
        ("INT", range(-700, -100)),
        ("BIGINT UNSIGNED", [0, 5, *range(10, 300), 2**64 - 1]),
    ],
    ids=["dense", "sparse", "negative", "unsigned"],
)
def test_ranges_give_the_rows_of_one_query_in_key_order(tmp_path, mysql, spy, key, keys):
    expected = make_range_table(mysql, keys, key)
    single = extract(tmp_path, mysql, table="r", split_by=False, batch_size=10)
    assert spy.sql == [
        "SELECT `id`, `n`, `price`, CAST(`huge` AS CHAR) AS `huge`, CAST(`at` AS CHAR) AS `at`, "
        f"`doc`, `body` FROM `{mysql['database']}`.`r`"
    ]
    spy.forget()
    ranged = extract(tmp_path, mysql, table="r", batch_size=10)
    assert ranged.schema.equals(single.schema, check_metadata=True)
    assert ranged.to_pylist() == single.to_pylist() == expected
    assert all(" ORDER BY `id` LIMIT 20" in sql for sql in spy.sql)
    assert max(spy.rows) <= 20  # batch_size 10: a range returns at most 2 batches
    assert len(expected) / 20 <= len(spy.sql) <= len(expected) / 10 + 25


def test_ranges_keep_where_columns_and_incremental_since(tmp_path, mysql, spy):
    expected = make_range_table(mysql, range(1, 401))
    picked = extract(tmp_path, mysql, table="r", columns=["n"], where="n > 2", batch_size=5)
    assert picked.schema.names == ["n"]
    assert picked.column("n").to_pylist() == [r["n"] for r in expected if (r["n"] or 0) > 2]
    assert all("`id` AS `osiris_key`" in sql for sql in spy.sql)
    assert len(spy.sql) > 1
    newer = extract(tmp_path, mysql, table="r", columns=["id"], cursor_column="id", since=350)
    assert newer.column("id").to_pylist() == list(range(351, 401))
    none_newer = extract(tmp_path, mysql, table="r", cursor_column="id", since="400")
    assert none_newer.num_rows == 0
    assert none_newer.schema.field("huge").type == pa.decimal256(65, 30)


def test_at_most_two_ranges_are_read_ahead_of_the_consumer(tmp_path, mysql, spy):
    make_range_table(mysql, range(1, 1001))
    from osiris.components.mysql.extractor import driver

    ctx = db.step_context(tmp_path, "mysql.extractor", {"table": "r", "batch_size": 10}, mysql)
    batches = iter(driver.run(ctx))
    assert spy.sql == []
    next(batches)  # the consumer holds the first batch and pulls nothing more
    assert len(spy.sql) == 2
    assert spy.open == 2
    rows = 10 + sum(b.num_rows for b in batches)
    assert rows == 1000
    assert spy.most_open == 2
    assert len(spy.sql) > 30


def test_without_an_integer_key_the_table_is_one_query(tmp_path, mysql, spy):
    db.mysql_execute(
        mysql,
        "CREATE TABLE nokey (id INT, v VARCHAR(5))",
        "CREATE TABLE pair (a INT, b INT, PRIMARY KEY (a, b))",
        "CREATE TABLE named (code VARCHAR(5) PRIMARY KEY)",
        "INSERT INTO nokey VALUES (2, 'b'), (1, 'a')",
        "INSERT INTO pair VALUES (1, 2), (1, 1)",
        "INSERT INTO named VALUES ('b'), ('a')",
    )
    assert extract(tmp_path, mysql, table="nokey", batch_size=1).num_rows == 2
    assert extract(tmp_path, mysql, table="pair", batch_size=1).to_pylist() == [
        {"a": 1, "b": 1},
        {"a": 1, "b": 2},
    ]
    assert extract(tmp_path, mysql, table="named", batch_size=1).num_rows == 2
    assert len(spy.sql) == 3
    assert not any("LIMIT" in sql for sql in spy.sql)


def test_a_cursor_other_than_the_key_reads_one_query_in_cursor_order(tmp_path, mysql, spy):
    make_range_table(mysql, range(1, 101))
    table = extract(tmp_path, mysql, table="r", columns=["id"], cursor_column="price", since="50.5")
    assert table.column("id").to_pylist() == list(range(51, 101))
    assert spy.sql == []  # fifty rows: read at once on the open connection
    # more rows than a batch: one connectorx query
    table = extract(
        tmp_path, mysql, table="r", columns=["id"], cursor_column="price", since="50.5",
        batch_size=10,
    )  # fmt: skip
    assert table.column("id").to_pylist() == list(range(51, 101))
    assert spy.sql == [
        f"SELECT `id` FROM `{mysql['database']}`.`r` WHERE `price` > '50.5' ORDER BY `price`"
    ]


def test_split_by_a_unique_column_and_its_errors(tmp_path, mysql, spy):
    db.mysql_execute(
        mysql,
        "CREATE TABLE s (code VARCHAR(5) PRIMARY KEY, seq INT NOT NULL UNIQUE, "
        "grp INT NOT NULL, maybe INT UNIQUE, KEY (grp))",
        "INSERT INTO s VALUES "
        + ", ".join(f"('c{i}', {1000 - i * 10}, {i % 3}, {i})" for i in range(60)),
    )
    table = extract(tmp_path, mysql, table="s", columns=["code"], split_by="seq", batch_size=4)
    assert table.column("code").to_pylist() == [f"c{i}" for i in reversed(range(60))]
    assert len(spy.sql) > 2
    name = f"table '{mysql['database']}.s'"
    cases = {
        "nope": f"`split_by` column 'nope' is not a column of {name}; its columns are code, seq, "
        "grp, maybe",
        "grp": f"`split_by` needs an integer NOT NULL column with a unique index of its own; 'grp' "
        f"of {name} is not one; pick another column or remove `split_by`",
        "maybe": f"`split_by` needs an integer NOT NULL column with a unique index of its own; "
        f"'maybe' of {name} is not one; pick another column or remove `split_by`",
        "code": f"`split_by` needs an integer NOT NULL column with a unique index of its own; "
        f"'code' of {name} is not one; pick another column or remove `split_by`",
    }
    for column, message in cases.items():
        with pytest.raises(StepError) as err:
            extract(tmp_path, mysql, table="s", split_by=column)
        assert (err.value.code, err.value.message) == ("config.invalid", message)
    with pytest.raises(StepError) as err:
        extract(tmp_path, mysql, table="s", split_by="seq", cursor_column="grp")
    assert (err.value.code, err.value.message) == (
        "config.invalid",
        "`split_by` 'seq' differs from `cursor_column` 'grp', and rows must come in cursor "
        "order; set `split_by` to the cursor column or remove it",
    )


def test_a_bad_where_is_reported_even_on_an_empty_table(tmp_path, mysql):
    make_range_table(mysql, [])
    with pytest.raises(StepError) as err:
        extract(tmp_path, mysql, table="r", where="nocol = 1")
    assert (err.value.code, err.value.message) == (
        "sql.error",
        "Unknown column 'nocol' in 'WHERE'; fix the query, `columns` or `where`",
    )
    assert extract(tmp_path, mysql, table="r").num_rows == 0
