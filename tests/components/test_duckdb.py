from __future__ import annotations

import pyarrow as pa
import pytest

from osiris.components.api import StepError
from testing.step_helpers import ArrowInput, run_step, step_context


def test_fan_in_tables_by_step_id(tmp_path):
    orders = ArrowInput.of(pa.table({"cid": [1, 1, 2], "amount": [10, 20, 5]}), step_id="orders")
    customers = ArrowInput.of(pa.table({"cid": [1, 2], "name": ["a", "b"]}), step_id="customers")
    out = run_step(
        step_context(
            tmp_path,
            "duckdb.processor",
            {
                "query": "select name, sum(amount) as total from orders join customers using (cid) "
                "group by name order by name"
            },
            inputs={"orders": orders, "customers": customers},
        )
    )
    assert out.to_pylist() == [{"name": "a", "total": 30}, {"name": "b", "total": 5}]


def test_single_input_is_also_named_input(tmp_path):
    src = ArrowInput.of(pa.table({"x": [1, 2, 3]}), step_id="src")
    out = run_step(
        step_context(
            tmp_path,
            "duckdb.processor",
            {"query": "select sum(x) as s from input"},
            inputs={"src": src},
        )
    )
    assert out.to_pylist() == [{"s": 6}]
    # the scratch database is gone once the stream is read
    assert not list((tmp_path / "scratch").rglob("*.duckdb"))


def test_sql_errors_have_codes_and_name_the_tables(tmp_path):
    src = ArrowInput.of(pa.table({"x": [1]}), step_id="src")
    with pytest.raises(StepError) as err:
        run_step(
            step_context(tmp_path, "duckdb.processor", {"query": "selec 1"}, inputs={"src": src})
        )
    assert err.value.code == "sql.error"
    with pytest.raises(StepError) as err:
        run_step(
            step_context(
                tmp_path,
                "duckdb.processor",
                {"query": "select * from nope"},
                inputs={"src": src},
            )
        )
    assert err.value.code == "table.not_found"
    assert err.value.message.endswith("(tables available: src)")


def test_larger_than_memory_limit_spills(tmp_path):
    # 3M rows with wide strings under a 64 MB DuckDB memory limit: the sort spills to disk
    n = 3_000_000
    batches = [
        pa.record_batch(
            {
                "k": pa.array(range(i, i + 500_000)),
                "v": pa.array([f"value-{j:012d}" for j in range(i, i + 500_000)]),
            }
        )
        for i in range(0, n, 500_000)
    ]
    src = ArrowInput.of(pa.Table.from_batches(batches), step_id="src")
    out = run_step(
        step_context(
            tmp_path,
            "duckdb.processor",
            {
                "query": "select count(*) as n, count(distinct v) as d "
                "from (select * from src order by v desc)",
                "memory_limit": "64MB",
                "threads": 1,
            },
            inputs={"src": src},
        )
    )
    assert out.to_pylist() == [{"n": n, "d": n}]
