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


def run(tmp_path, text, **steps):
    """Execute `text` in this process; `steps` sets run.steps (max_parallel, on_failure)."""
    settings = {**DEFAULT_RUN, "steps": {**DEFAULT_RUN.get("steps", {}), **steps}}
    manifest = compile_pipeline(write_pipeline(tmp_path, text), environ={}, run_settings=settings)
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
    # one step at a time: `later` has not started when `gen` fails
    code, events = run(tmp_path, text, max_parallel=1)
    assert code == 1
    failed = by_step(events, "step_failed", "error_code")
    assert failed == {
        "gen": "test.failure",
        "double": "upstream.failed",
        "write": "upstream.failed",
    }
    skipped = [e for e in events if e["kind"] == "event" and e["event"] == "step_skipped"]
    assert [(e["step"], e["reason"]) for e in skipped] == [("later", "an earlier step failed")]


def order_of(events, *names):
    return [
        (e["event"], e["step"])
        for e in events
        if e["kind"] == "event" and e["event"] in names and e["event"] != "step_progress"
    ]


NAPS = """
oml_version: "0.1.0"
name: naps
steps:
  - id: a
    component: testkit.sleeper
    mode: extract
    config: {seconds: 0.3}
  - id: b
    component: testkit.sleeper
    mode: extract
    config: {seconds: 0.3}
"""


def test_independent_branches_run_at_the_same_time(tmp_path):
    code, events = run(tmp_path, NAPS, max_parallel=2)
    assert code == 0
    # b starts while a still sleeps (which of the two equal naps ends first is not defined)
    seen = order_of(events, "step_start", "step_complete")
    assert seen[:2] == [("step_start", "a"), ("step_start", "b")]
    assert sorted(seen[2:]) == [("step_complete", "a"), ("step_complete", "b")]
    code, events = run(tmp_path, NAPS, max_parallel=1)
    assert order_of(events, "step_start", "step_complete") == [
        ("step_start", "a"),
        ("step_complete", "a"),
        ("step_start", "b"),
        ("step_complete", "b"),
    ]


BRANCHES = """
oml_version: "0.1.0"
name: branches
steps:
  - id: bad
    component: testkit.generator
    mode: extract
    config: {rows: 3000, batch_size: 100, fail_after: 200}
  - id: copy1
    component: filesystem.csv_writer
    mode: write
    needs: [bad]
    config: {path: copy1.csv}
  - id: copy2
    component: filesystem.parquet_writer
    mode: write
    needs: [bad]
    config: {path: copy2.parquet}
  - id: good
    component: testkit.generator
    mode: extract
    config: {rows: 3000, batch_size: 100, sleep_per_batch: 0.01}
  - id: keep
    component: filesystem.csv_writer
    mode: write
    needs: [good]
    config: {path: keep.csv}
"""


def test_on_failure_continue_lets_independent_branches_finish(tmp_path):
    code, events = run(tmp_path, BRANCHES, on_failure="continue")
    assert code == 1
    assert by_step(events, "step_failed", "error_code") == {"bad": "test.failure"}
    # `bad` fails while it is written once for its two consumers: they never start
    skipped = by_step(events, "step_skipped", "reason")
    assert skipped == {"copy1": "a step it needs failed", "copy2": "a step it needs failed"}
    assert by_step(events, "step_complete", "rows") == {"good": 3000, "keep": 3000}
    assert len((tmp_path / "out" / "keep.csv").read_text().splitlines()) == 3001


def test_on_failure_stop_cancels_the_streams_still_flowing(tmp_path):
    code, events = run(tmp_path, BRANCHES, on_failure="stop")
    assert code == 1
    failed = by_step(events, "step_failed", "error_code")
    assert failed["bad"] == "test.failure"
    assert failed["good"] == failed["keep"] == "cancelled"
    assert not (tmp_path / "out" / "keep.csv").exists()  # the writer never renamed its file
