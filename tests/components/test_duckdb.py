from __future__ import annotations

import hashlib
import json

import duckdb
import pyarrow as pa
import pytest

from osiris.components.api import StepError
from osiris.components.duckdb.processor import analysis
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


@pytest.mark.parametrize(
    "query",
    [
        "select sum(x) as s from input_df",
        "select sum(x) as s from df_extract_movies",
        'select sum(x) as s from "extract-movies"',
    ],
)
def test_upstream_osiris_input_names(tmp_path, query):
    src = ArrowInput.of(pa.table({"x": [1, 2, 3]}), step_id="extract-movies")
    out = run_step(
        step_context(tmp_path, "duckdb.processor", {"query": query}, inputs={"extract-movies": src})
    )
    assert out.to_pylist() == [{"s": 6}]


def test_upstream_names_of_several_inputs(tmp_path):
    # `df_<id>` with non-identifier characters as `_`, `_` before a digit, and a hash suffix for
    # ids that clean up to the same name (as upstream Osiris names them)
    inputs = {
        sid: ArrowInput.of(pa.table({"x": [n]}), step_id=sid)
        for n, sid in enumerate(["get.data", "123records", "a-b", "a_b"], start=1)
    }
    suffix = {sid: hashlib.sha256(sid.encode()).hexdigest()[:8] for sid in ("a-b", "a_b")}
    query = (
        "select (select x from df_get_data) + 10 * (select x from df__123records) "
        f"+ 100 * (select x from df_a_b_{suffix['a-b']}) "
        f"+ 1000 * (select x from df_a_b_{suffix['a_b']}) as v"
    )
    out = run_step(step_context(tmp_path, "duckdb.processor", {"query": query}, inputs=inputs))
    assert out.to_pylist() == [{"v": 4321}]
    # input_df is there only for a lone input
    with pytest.raises(StepError) as err:
        run_step(
            step_context(
                tmp_path, "duckdb.processor", {"query": "select * from input_df"}, inputs=inputs
            )
        )
    assert err.value.code == "table.not_found"
    assert "df_get_data" in err.value.message


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
    assert err.value.message.endswith("(tables available: df_src, input, input_df, src)")
    # a name that is no input never finds a Python object by that name
    with pytest.raises(StepError) as err:
        run_step(
            step_context(
                tmp_path,
                "duckdb.processor",
                {"query": "select * from src, ctx"},
                inputs={"src": src},
            )
        )
    assert err.value.code == "table.not_found"


def test_a_streamed_query_failing_midway_is_a_step_error(tmp_path):
    src = ArrowInput.of(pa.table({"y": ["1", "2", "x"]}), batch_rows=1, step_id="src")
    with pytest.raises(StepError) as err:
        run_step(
            step_context(
                tmp_path,
                "duckdb.processor",
                {"query": "select cast(y as integer) as n from src"},
                inputs={"src": src},
            )
        )
    assert err.value.code == "sql.failed"
    assert err.value.message == (
        "Conversion Error: Could not convert string 'x' to INT32 when casting from source column y"
    )
    assert not list((tmp_path / "scratch").rglob("*.duckdb"))


def _run(tmp_path, query, inputs, **config):
    """The output table and how many inputs were streamed (not copied into DuckDB first)."""
    metrics: list = []
    ctx = step_context(
        tmp_path, "duckdb.processor", {"query": query, **config}, inputs=inputs, metrics=metrics
    )
    out = run_step(ctx)
    (streamed,) = [m[1] for m in metrics if m[0] == "inputs_streamed"]
    return out, streamed


@pytest.mark.parametrize(
    "query, streamed",
    [
        # a single scan: the stream is queried directly
        (
            "select count(*) as n, count(distinct v) as d from (select * from src order by v desc)",
            1,
        ),
        # src named twice: a stream can be read once, so it is copied into DuckDB first
        (
            "select count(*) as n, count(distinct v) as d from (select * from src where k >= 0 "
            "union all select * from src where k < 0 order by v desc)",
            0,
        ),
    ],
    ids=["streamed", "materialized"],
)
def test_larger_than_memory_limit_spills(tmp_path, query, streamed):
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
    out, used = _run(tmp_path, query, {"src": src}, memory_limit="64MB", threads=1)
    assert out.to_pylist() == [{"n": n, "d": n}]
    assert used == streamed


def _numbers(step_id="src"):
    return ArrowInput.of(
        pa.table({"x": list(range(10)), "y": [f"n{i}" for i in range(10)]}),
        batch_rows=3,
        step_id=step_id,
    )


def test_streamed_and_materialized_give_the_same_rows(tmp_path):
    streamed, n_streamed = _run(
        tmp_path, "select x, y from src where x % 3 <> 0 order by x desc", {"src": _numbers()}
    )
    # the same rows, but src is named twice
    copied, n_copied = _run(
        tmp_path,
        "select x, y from src where x % 3 <> 0 and x in (select x from src) order by x desc",
        {"src": _numbers()},
    )
    assert (n_streamed, n_copied) == (1, 0)
    assert streamed.equals(copied)
    assert streamed.column("x").to_pylist() == [8, 7, 5, 4, 2, 1]


@pytest.mark.parametrize(
    "query, streamed",
    [
        ("select a.x, b.y from src a join src b on a.x = b.x + 1 order by a.x", 0),
        ("select a.x, b.y from input a join src b on a.x = b.x + 1 order by a.x", 0),
        (
            "with s as (select * from src) select a.x, b.y from s a join s b on a.x = b.x + 1 "
            "order by a.x",
            0,
        ),
        (
            "with s as (select * from src), t as (select * from s) "
            "select a.x, b.y from t a join src b on a.x = b.x + 1 order by a.x",
            0,
        ),
        ("select a.x, b.y from query_table('src') a join src b on a.x = b.x + 1 order by a.x", 0),
        # one scan each side: two inputs, both streamed
        ("select a.x, b.y from src a join other b on a.x = b.x + 1 order by a.x", 2),
        (
            "with s as (select * from src) select a.x, b.y from s a join other b on a.x = b.x + 1 "
            "order by a.x",
            2,
        ),
    ],
)
def test_a_query_reading_an_input_twice_still_works(tmp_path, query, streamed):
    inputs = {"src": _numbers()}
    if "other" in query:
        inputs["other"] = _numbers("other")
    out, used = _run(tmp_path, query, inputs)
    assert out.column("x").to_pylist() == list(range(1, 10))
    assert out.column("y").to_pylist() == [f"n{i}" for i in range(9)]
    assert used == streamed


def _scans(query, steps=("src", "other")):
    con = duckdb.connect()
    names = {s: s for s in steps}
    statements = analysis.parse(con, query)
    con.close()
    return None if statements is None else analysis.scan_counts(statements, names)


def test_scan_counts_follow_ctes_subqueries_and_recursion():
    assert _scans("select * from src where x > (select avg(x) from other)") == {
        "src": 1,
        "other": 1,
    }
    assert _scans("select * from SRC union all select * from main.src") == {"src": 2}
    # an unreferenced CTE may still run; a CTE shadows an input of the same name
    assert _scans("with c as (select * from src) select * from other") == {"src": 1, "other": 1}
    assert _scans("with src as (select * from other) select * from src") == {"other": 1}
    assert _scans("with c as (select * from src) select * from (with d as (select * from c) "
                  "select * from d, d as e)") == {"src": 2}  # fmt: skip
    # the recursive part runs once per iteration
    assert _scans(
        "with recursive r as (select 1 as n union all select n + 1 from r, src where n < src.x) "
        "select * from r"
    ) == {"src": 2}
    assert _scans("select * from query('select * from src')") is None
    assert _scans("create table t as select * from src") is None
    assert _scans("selec 1") is None


def _events():
    schema = pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("kind", pa.string(), nullable=False, metadata={"osiris.max_length": "64"}),
            pa.field("url", pa.string(), metadata={"osiris.max_length": "255"}),
            pa.field("attrs", pa.string(), nullable=False, metadata={"osiris.type": "json"}),
            pa.field("tags", pa.list_(pa.string())),
        ],
        metadata={"osiris.primary_key": json.dumps(["id"])},
    )
    rows = {
        "id": [1, 2, 3],
        "kind": ["a", "b", "a"],
        "url": ["u1", None, "u3"],
        "attrs": ['{"k": 1}', "{}", "[]"],
        "tags": [["t"], [], None],
    }
    return ArrowInput.of(pa.table(rows, schema=schema), batch_rows=2, step_id="extract")


def _fields(table):
    return [(f.name, f.nullable, dict(f.metadata or {})) for f in table.schema]


def _key(table):
    return (table.schema.metadata or {}).get(b"osiris.primary_key")


KIND = {b"osiris.max_length": b"64"}
URL = {b"osiris.max_length": b"255"}
JSON = {b"osiris.type": b"json"}


def test_pass_through_columns_keep_metadata_nullability_and_key(tmp_path):
    out, used = _run(
        tmp_path,
        "select id, kind, upper(kind) as shout, e.url as link, attrs, attrs || '' as text "
        "from extract e where id > 1 order by id",
        {"extract": _events()},
    )
    assert used == 1
    assert _fields(out) == [
        ("id", False, {}),
        ("kind", False, KIND),
        ("shout", True, {}),  # computed: a plain nullable string
        ("link", True, URL),  # renamed, still the input column
        ("attrs", False, JSON),
        ("text", True, {}),
    ]
    assert _key(out) == b'["id"]'
    assert out.column("link").to_pylist() == [None, "u3"]


def test_star_and_renamed_key_carry_over(tmp_path):
    out, _ = _run(
        tmp_path, "select * exclude (tags), id as event_id from input", {"extract": _events()}
    )
    assert _fields(out) == [
        ("id", False, {}),
        ("kind", False, KIND),
        ("url", True, URL),
        ("attrs", False, JSON),
        ("event_id", False, {}),
    ]
    assert _key(out) == b'["id"]'
    out, _ = _run(tmp_path, "select id as event_id, kind from input", {"extract": _events()})
    assert _key(out) == b'["event_id"]'


@pytest.mark.parametrize(
    "query, fields, key",
    [
        # the key is not in the output
        ("select kind, count(*) as n from extract group by kind order by kind",
         [("kind", False, KIND), ("n", True, {})], None),
        # ROLLUP adds a total row whose kind is NULL
        ("select kind, count(*) as n from extract group by rollup (kind) order by kind",
         [("kind", True, KIND), ("n", True, {})], None),
        # unnest repeats a row per list element: the id is no longer a key
        ("select id, unnest(tags) as tag from extract",
         [("id", False, {}), ("tag", True, {})], None),
        # an outer join can put NULLs into any column of its inner side
        ("select e.id, e.kind, o.x from extract e left join other o on e.id = o.x",
         [("id", True, {}), ("kind", True, KIND), ("x", True, {})], None),
        # a subquery in FROM is not analysed: nothing is carried
        ("select id, kind from (select * from extract) order by id",
         [("id", True, {}), ("kind", True, {})], None),
        ("select id, kind from extract union all select id, kind from extract",
         [("id", True, {}), ("kind", True, {})], None),
        # same name, different type: not the input column
        ("select id::varchar as id, kind from extract",
         [("id", True, {}), ("kind", False, KIND)], None),
    ],
    ids=["group-by", "rollup", "unnest", "left-join", "subquery", "union", "cast"],
)  # fmt: skip
def test_metadata_is_carried_only_when_safe(tmp_path, query, fields, key):
    other = ArrowInput.of(pa.table({"x": pa.array([1], pa.int64())}), step_id="other")
    inputs = {"extract": _events()}
    if "other" in query:
        inputs["other"] = other
    out, _ = _run(tmp_path, query, inputs)
    assert _fields(out) == fields
    assert _key(out) == key


def test_fan_in_pass_through_from_either_input(tmp_path):
    other = ArrowInput.of(
        pa.table({"x": [1, 3], "note": ["one", "three"]},
                 schema=pa.schema([pa.field("x", pa.int64(), nullable=False),
                                   pa.field("note", pa.string(), metadata={"osiris.type": "c"})])),
        step_id="other",
    )  # fmt: skip
    out, used = _run(
        tmp_path,
        "select e.id, o.note, kind from extract e join other o on e.id = o.x order by e.id",
        {"extract": _events(), "other": other},
    )
    assert used == 2
    assert _fields(out) == [("id", False, {}), ("note", True, {b"osiris.type": b"c"}),
                            ("kind", False, KIND)]  # fmt: skip
    assert _key(out) is None  # a join can repeat a key
    assert out.to_pylist() == [
        {"id": 1, "note": "one", "kind": "a"},
        {"id": 3, "note": "three", "kind": "a"},
    ]


class _FailingInput:
    """An upstream step that fails after its first batch."""

    step_id = "src"

    def open(self):
        schema = pa.schema([("x", pa.int64())])

        def batches():
            yield pa.record_batch({"x": [1, 2]}, schema=schema)
            raise StepError("connection.failed", "lost the connection to db:3306; retry the run")

        return pa.RecordBatchReader.from_batches(schema, batches())


@pytest.mark.parametrize("query", ["select x from src", "select a.x from src a, src b"])
def test_an_upstream_failure_keeps_its_code_and_message(tmp_path, query):
    with pytest.raises(StepError) as err:
        run_step(
            step_context(
                tmp_path, "duckdb.processor", {"query": query}, inputs={"src": _FailingInput()}
            )
        )
    assert (err.value.code, err.value.message) == (
        "connection.failed",
        "lost the connection to db:3306; retry the run",
    )
