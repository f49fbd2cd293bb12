"""MariaDB → Arrow → PostgreSQL: mysql.extractor feeding postgres.writer, type by type."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from osiris.components import get_registry
from testing import db

pytestmark = pytest.mark.db

TRICKY = [
    "tab\there",
    "new\nline\r\n",
    "back\\slash\\\\",
    'quote\' "dq"',
    "ünï 😀🦄",
    "",
    "NULL",
    "\\N",
]

MARIADB_TABLE = """
CREATE TABLE every_type (
  id BIGINT NOT NULL PRIMARY KEY, flag TINYINT(1) NOT NULL,
  i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, u16 SMALLINT UNSIGNED, i24 MEDIUMINT,
  i32 INT, u32 INT UNSIGNED, i64 BIGINT, u64 BIGINT UNSIGNED,
  price DECIMAL(12,2), wide DECIMAL(38,10), huge DECIMAL(65,30), f32 FLOAT, f64 DOUBLE,
  name VARCHAR(64) NOT NULL, code CHAR(3), body TEXT, doc JSON,
  raw BLOB, bin4 BINARY(4), created DATETIME(6), updated TIMESTAMP(3) NULL, day DATE,
  at TIME(6), yr YEAR, mood ENUM('happy','sad')
)"""

PG_TYPES = {
    "id": ("bigint", True),
    "flag": ("boolean", True),
    "i8": ("smallint", False),
    "u8": ("smallint", False),
    "i16": ("smallint", False),
    "u16": ("integer", False),
    "i24": ("integer", False),
    "i32": ("integer", False),
    "u32": ("bigint", False),
    "i64": ("bigint", False),
    "u64": ("numeric(20,0)", False),
    "price": ("numeric(12,2)", False),
    "wide": ("numeric(38,10)", False),
    "huge": ("numeric(65,30)", False),
    "f32": ("real", False),
    "f64": ("double precision", False),
    "name": ("character varying(64)", True),
    "code": ("character varying(3)", False),
    "body": ("text", False),
    "doc": ("jsonb", False),
    "raw": ("bytea", False),
    "bin4": ("bytea", False),
    "created": ("timestamp without time zone", False),
    "updated": ("timestamp without time zone", False),
    "day": ("date", False),
    "at": ("interval", False),  # MySQL's TIME is a span up to 838 hours
    "yr": ("smallint", False),
    "mood": ("text", False),
}


def row(i):
    """Row i: extremes in row 0, NULLs in row 1, tricky text and steady values after that."""
    if i == 1:
        return {c: None for c in PG_TYPES} | {"id": 1, "flag": False, "name": "nulls"}
    text = TRICKY[i % len(TRICKY)]
    big = i == 0
    return {
        "id": i,
        "flag": i % 2 == 0,
        "i8": -128 if big else i % 100,
        "u8": 255 if big else i % 200,
        "i16": -32768 if big else i,
        "u16": 65535 if big else i,
        "i24": -8388608 if big else -i,
        "i32": -2147483648 if big else i * 1000,
        "u32": 4294967295 if big else i,
        "i64": -9223372036854775808 if big else i * 10**12,
        "u64": 18446744073709551615 if big else i,
        "price": Decimal("-9999999999.99") if big else Decimal(i) / 100,
        "wide": Decimal("1234567890123456789012345678.1234567891") if big else Decimal(i),
        "huge": Decimal("12345678901234567890123456789012345.123456789012345678901234567890")
        if big
        else Decimal(i) / 1000,
        "f32": -0.25 if big else float(i) + 0.5,
        "f64": 2.2250738585072014e-308 if big else i / 7,
        "name": text,
        "code": "abc" if big else text[:3].strip() or None,
        "body": text * 3,
        "doc": json.dumps({"text": text, "n": i, "list": [1, 2.5, None]}),
        "raw": bytes(range(256)) if big else text.encode() + b"\x00\xff",
        "bin4": b"\x00\x01\xfe\xff",
        "created": dt.datetime(2024, 2, 29, 23, 59, 59, 999999) + dt.timedelta(minutes=i),
        "updated": dt.datetime(2038, 1, 19, 3, 14, 7)
        if big
        else dt.datetime(2024, 1, 1, 0, 0, 0, 123000),
        "day": dt.date(1000, 1, 1) if big else dt.date(2024, 1, 1) + dt.timedelta(days=i),
        "at": dt.timedelta(hours=838, minutes=59, seconds=59)
        if big
        else dt.timedelta(minutes=i % 60, microseconds=5) * (-1 if i % 3 else 1),
        "yr": 2155 if big else 1901 + i,
        "mood": "sad" if big else "happy",
    }


ROWS = [row(i) for i in range(40)]


def test_every_type_survives_mariadb_to_arrow_to_postgres(tmp_path):
    with db.mysql_database() as my, db.postgres_database() as pg:
        db.mysql_execute(my, MARIADB_TABLE)
        db.mysql_insert(my, "every_type", [{c: r[c] for c in PG_TYPES} for r in ROWS])

        extract = db.step_context(
            tmp_path, "mysql.extractor", {"table": "every_type", "batch_size": 7}, my
        )
        reader = get_registry().require("mysql.extractor").load_driver().run(extract)
        handle = db.ArrowInput(reader.schema, reader)
        load = db.step_context(
            tmp_path, "postgres.writer", {"table": "copied"}, pg, inputs={"up": handle}
        )
        assert db.run_step(load) is None

        created = db.postgres_query(
            pg,
            "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute "
            "WHERE attrelid = 'copied'::regclass AND attnum > 0 ORDER BY attnum",
        )
        assert {name: (t, notnull) for name, t, notnull in created} == PG_TYPES
        assert [name for name, _, _ in created] == list(PG_TYPES)
        assert db.postgres_query(
            pg,
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'copied'::regclass AND contype = 'p'",
        ) == [("PRIMARY KEY (id)",)]

        got = db.postgres_query(pg, f"SELECT {', '.join(PG_TYPES)} FROM copied ORDER BY id")
        assert len(got) == len(ROWS)
        for index, column in enumerate(PG_TYPES):
            expected = [expected_in_postgres(column, r[column]) for r in ROWS]
            assert [g[index] for g in got] == expected, column


def expected_in_postgres(column, value):
    """What psycopg reads back: the inserted value, with jsonb parsed."""
    return json.loads(value) if column == "doc" and value is not None else value
