"""The executor in-process: DAG order, streams vs files, step events and row counts."""

from __future__ import annotations

from osiris.executor.engine import execute
from osiris.pipeline import compile_pipeline
from testing.runner_helpers import DEFAULT_RUN, write_pipeline

CHAIN = """
oml_version: "0.1.0"
name: chain
steps:
  - id: gen
    component: testkit.generator
    mode: extract
    config: {rows: 3000, batch_size: 500}
  - id: double
    component: duckdb.processor
    mode: transform
    needs: [gen]
    config: {query: "select id * 2 as id2, label from gen", batch_size: 400}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [double]
    config: {path: out.csv}
"""


def run(tmp_path, text):
    manifest = compile_pipeline(
        write_pipeline(tmp_path, text), environ={}, run_settings=DEFAULT_RUN
    )
    events = []
    code = execute(
        manifest.data,
        environ={},
        input_root=tmp_path,
        output_root=tmp_path / "out",
        scratch_dir=tmp_path / "scratch",
        emit=lambda kind, **fields: events.append({"kind": kind, **fields}),
    )
    return code, events


def by_step(events, name, field):
    """`{step: event[field]}` over the `name` events."""
    return {e["step"]: e[field] for e in events if e["kind"] == "event" and e["event"] == name}


def test_a_streamed_chain_reports_each_step_once_with_its_full_row_count(tmp_path):
    code, events = run(tmp_path, CHAIN)
    assert code == 0
    steps = [
        (e["event"], e["step"], e.get("rows"))
        for e in events
        if e["kind"] == "event" and e["event"] in ("step_start", "step_complete")
    ]
    assert steps == [
        ("step_start", "gen", None),
        ("step_start", "double", None),
        ("step_start", "write", None),
        ("step_complete", "gen", 3000),
        ("step_complete", "double", 3000),
        ("step_complete", "write", 3000),
    ]
    metrics = {
        (e["metric"], e["tags"]["step"]): e["value"]
        for e in events
        if e["kind"] == "metric" and e["metric"].startswith("rows_")
    }
    assert metrics == {("rows_read", "gen"): 3000, ("rows_written", "write"): 3000}
    assert len((tmp_path / "out" / "out.csv").read_text().splitlines()) == 3001


def test_a_consumer_that_stops_early_still_completes_its_producer(tmp_path):
    code, events = run(
        tmp_path,
        CHAIN.replace("select id * 2 as id2, label from gen", "select id from gen limit 10"),
    )
    assert code == 0
    complete = by_step(events, "step_complete", "rows")
    assert complete["double"] == 10 and complete["write"] == 10
    assert 10 <= complete["gen"] <= 3000


def test_fan_out_writes_one_file_that_every_consumer_reads(tmp_path):
    text = (
        CHAIN
        + """
  - id: write_gen
    component: filesystem.parquet_writer
    mode: write
    needs: [gen]
    config: {path: gen.parquet}
"""
    )
    code, events = run(tmp_path, text)
    assert code == 0
    complete = by_step(events, "step_complete", "rows")
    assert complete == {"gen": 3000, "double": 3000, "write": 3000, "write_gen": 3000}


def test_steps_after_a_failure_are_skipped_and_say_so(tmp_path):
    text = (
        CHAIN.replace("batch_size: 500}", "batch_size: 500, fail_after: 1000}")
        + """
  - id: later
    component: testkit.generator
    mode: extract
    config: {rows: 5}
"""
    )
    code, events = run(tmp_path, text)
    assert code == 1
    failed = by_step(events, "step_failed", "error_code")
    assert failed == {
        "gen": "test.failure",
        "double": "upstream.failed",
        "write": "upstream.failed",
    }
    skipped = [e for e in events if e["kind"] == "event" and e["event"] == "step_skipped"]
    assert [(e["step"], e["reason"]) for e in skipped] == [("later", "an earlier step failed")]
