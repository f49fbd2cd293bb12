"""postgres.writer's binary COPY (pgpq), checked value by value against the real server.

Generated tables go through the writer step into PostgreSQL and are read back with psycopg;
every value must come back as it went in (floats bit for bit, NaN and infinities included).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Context, Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osiris.components.api import StepError
from testing import db

pytestmark = pytest.mark.db

UTC = dt.UTC
INT32 = st.integers(-(2**31), 2**31 - 1)
# PostgreSQL text cannot hold NUL; everything else, including lone surrogates' absence, can.
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=40)


def _decimals(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    # from integers, so no value is rounded by a 28-digit decimal context on the way
    exact = Context(prec=100)
    top = 10**precision - 1
    return st.integers(-top, top).map(lambda n: Decimal(n).scaleb(-scale, exact))


COLUMNS: dict[str, tuple[pa.DataType, st.SearchStrategy[Any]]] = {
    "i16": (pa.int16(), st.integers(-(2**15), 2**15 - 1)),
    "i32": (pa.int32(), INT32),
    "i64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "u32": (pa.uint32(), st.integers(0, 2**32 - 1)),
    "u64": (pa.uint64(), st.integers(0, 2**64 - 1)),
    "f32": (pa.float32(), st.floats(width=32)),
    "f64": (pa.float64(), st.floats()),
    "price": (pa.decimal128(12, 2), _decimals(12, 2)),
    "odd_scale": (pa.decimal128(9, 5), _decimals(9, 5)),
    "wide": (pa.decimal128(38, 10), _decimals(38, 10)),
    "whole": (pa.decimal128(18, 0), _decimals(18, 0)),
    "fraction": (pa.decimal128(4, 4), _decimals(4, 4)),
    "huge": (pa.decimal256(76, 38), _decimals(76, 38)),
    "name": (pa.string(), TEXT),
    "note": (pa.large_string(), TEXT),
    "raw": (pa.binary(), st.binary(max_size=40)),
    "ok": (pa.bool_(), st.booleans()),
    "day": (pa.date32(), st.dates()),
    "at": (pa.timestamp("us"), st.datetimes()),
    "utc": (pa.timestamp("us", "UTC"), st.datetimes(timezones=st.just(UTC))),
    "clock": (pa.time64("us"), st.times()),
    "ints": (pa.list_(pa.int32()), st.lists(st.none() | INT32, max_size=5)),
    "words": (pa.list_(pa.string()), st.lists(st.none() | TEXT, max_size=4)),
}


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    names = draw(st.lists(st.sampled_from(sorted(COLUMNS)), min_size=1, max_size=8, unique=True))
    rows = draw(st.integers(0, 12))
    data: dict[str, pa.Array] = {"id": pa.array(range(rows), pa.int64())}
    for name in names:
        typ, values = COLUMNS[name]
        data[name] = pa.array(draw(st.lists(st.none() | values, min_size=rows, max_size=rows)), typ)
    return pa.table(data)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.fixture(scope="module")
def pg():
    with db.postgres_database() as conn:
        yield conn


def write(tmp_path, conn, table: pa.Table, *, batch_rows: int = 5, **config: Any) -> None:
    handle = db.ArrowInput.of(table, batch_rows=batch_rows)
    config = {"table": "t", "write_mode": "replace", **config}
    ctx = db.step_context(tmp_path, "postgres.writer", config, conn, inputs={"up": handle})
    assert db.run_step(ctx) is None


def read_back(conn, table: pa.Table) -> list[tuple[Any, ...]]:
    # real as float8: its text form is the shortest decimal, which reads back as another double
    cols = ", ".join(
        f'"{f.name}"::float8' if pa.types.is_float32(f.type) else f'"{f.name}"'
        for f in table.schema
    )
    return db.postgres_query(conn, f"SELECT {cols} FROM t ORDER BY id")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables())
def test_every_generated_value_reads_back_as_written(tmp_path_factory, pg, table):
    write(tmp_path_factory.mktemp("copy"), pg, table)
    expected = [tuple(row.values()) for row in table.to_pylist()]
    got = read_back(pg, table)
    assert len(got) == len(expected)
    for want, have in zip(expected, got, strict=True):
        assert _same(list(want), list(have)), (want, have)


def test_intervals_keep_months_days_and_microseconds(tmp_path, pg):
    spans = [
        pa.MonthDayNano([1, 2, 3_000_000_000]),
        pa.MonthDayNano([-14, -3, -86_399_999_999_000]),
        pa.MonthDayNano([0, 0, 1_999]),  # sub-microsecond digits are cut toward zero
        pa.MonthDayNano([0, 0, -1_999]),
        None,
    ]
    table = pa.table({"id": range(5), "span": pa.array(spans, pa.month_day_nano_interval())})
    write(tmp_path, pg, table)
    assert db.postgres_query(pg, "SELECT span::text FROM t ORDER BY id") == [
        ("1 mon 2 days 00:00:03",),
        ("-1 years -2 mons -3 days -23:59:59.999999",),
        ("00:00:00.000001",),
        ("-00:00:00.000001",),
        (None,),
    ]


def test_a_decimal_wider_than_its_declared_precision_is_refused_by_the_server(tmp_path, pg):
    db.postgres_execute(pg, "DROP TABLE IF EXISTS t", "CREATE TABLE t (id bigint, d numeric(5,2))")
    # Arrow does not check precision: 123456.78 in a decimal128(5, 2) array
    bad = pa.array([Decimal("1.25")], pa.decimal128(5, 2))
    wide = pa.Array.from_buffers(
        pa.decimal128(5, 2), 1, [None, pa.py_buffer((12345678).to_bytes(16, "little"))]
    )
    for values, outcome in ((bad, [(0, Decimal("1.25"))]), (wide, None)):
        table = pa.table({"id": pa.array([0], pa.int64()), "d": values})
        if outcome is None:
            with pytest.raises(StepError) as err:
                write(tmp_path, pg, table, write_mode="append")
            assert err.value.code == "write.failed"
            assert "numeric field overflow" in err.value.message
        else:
            write(tmp_path, pg, table, write_mode="append")
            assert db.postgres_query(pg, "SELECT * FROM t") == outcome
