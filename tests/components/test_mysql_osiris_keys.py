"""Upstream Osiris's mysql.extractor and mysql.writer keys, against the real MariaDB."""

from __future__ import annotations

import pyarrow as pa
import pytest

from osiris.components.api import StepError
from testing import db

pytestmark = pytest.mark.db

EVENTS = "CREATE TABLE ev (id INT PRIMARY KEY, kind VARCHAR(10), n INT)"
ROWS = "INSERT INTO ev VALUES " + ", ".join(
    f"({i}, '{'ab'[i % 2]}', {i * 10})" for i in range(1, 11)
)


def extract(tmp_path, conn, **config):
    return db.run_step(db.step_context(tmp_path, "mysql.extractor", config, conn)).to_pylist()


def write(tmp_path, conn, table, batch_rows=3, **config):
    ctx = db.step_context(
        tmp_path,
        "mysql.writer",
        {"table": "t", **config},
        conn,
        inputs={"up": db.ArrowInput.of(table, batch_rows=batch_rows)},
    )
    assert db.run_step(ctx) is None


def test_limit_and_offset_of_a_table_follow_its_key(tmp_path, mysql):
    db.mysql_execute(mysql, EVENTS, ROWS)
    rows = extract(tmp_path, mysql, table="ev", limit=3, offset=2)
    assert [r["id"] for r in rows] == [3, 4, 5]
    assert [r["id"] for r in extract(tmp_path, mysql, table="ev", offset=8)] == [9, 10]
    assert [r["id"] for r in extract(tmp_path, mysql, table="ev", limit=2)] == [1, 2]


def test_a_query_result_takes_columns_where_limit_and_offset(tmp_path, mysql):
    db.mysql_execute(mysql, EVENTS, ROWS)
    rows = extract(
        tmp_path, mysql, query="SELECT * FROM ev", columns=["n", "id"], where="kind = 'a'"
    )
    assert sorted(r["id"] for r in rows) == [2, 4, 6, 8, 10]
    assert all(list(r) == ["n", "id"] and r["n"] == r["id"] * 10 for r in rows)
    # a window of the result: as many rows as asked, all of them rows of the result
    window = extract(tmp_path, mysql, query="SELECT id FROM ev WHERE id > 3", limit=2, offset=1)
    assert len(window) == 2 and {r["id"] for r in window} <= set(range(4, 11))


def test_schema_names_the_database(tmp_path, mysql):
    db.mysql_execute(mysql, EVENTS, ROWS)
    elsewhere = {**mysql, "database": ""}
    rows = extract(tmp_path, elsewhere, table="ev", schema=mysql["database"], limit=1)
    assert rows == [{"id": 1, "kind": "b", "n": 10}]
    rows = extract(
        tmp_path, elsewhere, query="SELECT COUNT(*) AS c FROM ev", schema=mysql["database"]
    )
    assert rows == [{"c": 10}]


DATA = pa.table({"id": [1, 2, 3], "v": ["a", "b", "c"]})


def test_writer_mode_and_upsert_keys_are_write_mode_and_primary_key(tmp_path, mysql):
    write(tmp_path, mysql, DATA, mode="append", create_table=True)
    changed = pa.table({"id": [2, 4], "v": ["B", "d"]})
    db.mysql_execute(mysql, "ALTER TABLE t ADD PRIMARY KEY (id)")
    write(tmp_path, mysql, changed, mode="upsert", upsert_keys=["id"])
    assert db.mysql_query(mysql, "SELECT id, v FROM t ORDER BY id") == [
        (1, "a"),
        (2, "B"),
        (3, "c"),
        (4, "d"),
    ]


def test_writer_primary_key_as_a_string_creates_the_key(tmp_path, mysql):
    write(tmp_path, mysql, DATA, primary_key="id")
    keys = db.mysql_query(
        mysql,
        "SELECT COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE "
        f"WHERE TABLE_SCHEMA = '{mysql['database']}' AND TABLE_NAME = 't' "
        "AND CONSTRAINT_NAME = 'PRIMARY'",
    )
    assert keys == [("id",)]


def test_create_table_false_refuses_a_missing_table(tmp_path, mysql):
    with pytest.raises(StepError) as err:
        write(tmp_path, mysql, DATA, create_table=False)
    assert err.value.code == "table.not_found"


def test_truncate_before_empties_the_table_in_the_same_transaction(tmp_path, mysql):
    write(tmp_path, mysql, DATA)
    write(tmp_path, mysql, pa.table({"id": [7], "v": ["x"]}), truncate_before=True)
    assert db.mysql_query(mysql, "SELECT id, v FROM t") == [(7, "x")]
    # a failing load rolls the delete back with it
    bad = pa.table({"id": [8], "v": ["much too long for the column" * 20]})
    db.mysql_execute(mysql, "ALTER TABLE t MODIFY v VARCHAR(5)")
    with pytest.raises(StepError):
        write(tmp_path, mysql, bad, truncate_before=True)
    assert db.mysql_query(mysql, "SELECT id, v FROM t") == [(7, "x")]


def inserts(conn):
    return int(db.mysql_query(conn, "SHOW GLOBAL STATUS LIKE 'Com_insert'")[0][1])


def test_batch_size_bounds_the_rows_per_statement(tmp_path, mysql):
    many = pa.table({"id": list(range(25)), "v": [str(i) for i in range(25)]})
    before = inserts(mysql)
    write(tmp_path, mysql, many, batch_rows=25, load_method="insert")
    assert inserts(mysql) - before == 1
    before = inserts(mysql)
    write(tmp_path, mysql, many, batch_rows=25, load_method="insert", batch_size=4)
    assert inserts(mysql) - before == 7
    assert db.mysql_query(mysql, "SELECT COUNT(*), CAST(SUM(id) AS SIGNED) FROM t") == [(50, 600)]
