"""The runner contract: every runner must pass these, unchanged."""

from __future__ import annotations

import copy
from pathlib import Path

from testing.runner_helpers import DEFAULT_RUN, run_pipeline, write_pipeline

GENERATE_AND_WRITE = """
oml_version: "0.1.0"
name: contract
steps:
  - id: gen
    component: testkit.generator
    mode: extract
    config: {rows: 2500, batch_size: 1000}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [gen]
    config: {path: out/rows.csv}
"""


def limits(**kw):
    settings = copy.deepcopy(DEFAULT_RUN)
    settings["limits"].update(kw)
    return settings


def test_success_events_metrics_outputs(tmp_path, runner):
    out = run_pipeline(tmp_path, runner, write_pipeline(tmp_path, GENERATE_AND_WRITE))

    assert (out.result.status, out.result.exit_code) == ("succeeded", 0)
    assert out.result.outputs == ["out/rows.csv"]
    written = (out.session / "artifacts" / "outputs" / "out" / "rows.csv").read_text()
    assert written.splitlines()[0] == '"id","label"'
    assert len(written.splitlines()) == 2501
    names = out.names()
    assert names[:3] == ["run_start", "run_prepare_env", "run_submit"]
    assert names[-2:] == ["run_complete", "run_cleanup"]
    steps = [(e["event"], e.get("step")) for e in out.events() if e["event"].startswith("step_")]
    assert ("step_complete", "gen") in steps
    assert steps[0] == ("step_start", "gen")
    assert steps[-1] == ("step_complete", "write")
    complete = {e["step"]: e for e in out.events() if e["event"] == "step_complete"}
    assert complete["gen"]["rows"] == 2500 and complete["write"]["rows"] == 2500
    metrics = {(m["metric"], m["tags"].get("step")): m["value"] for m in out.metrics()}
    assert metrics[("rows_read", "gen")] == 2500
    assert metrics[("rows_written", "write")] == 2500
    assert ("run_duration_ms", None) in metrics
    assert out.result.rows_read == 2500 and out.result.rows_written == 2500


def test_outputs_are_placed_and_an_appending_writer_continues_the_file(tmp_path, runner):
    text = GENERATE_AND_WRITE.replace("rows: 2500", "rows: 3").replace(
        "{path: out/rows.csv}", "{path: out/rows.csv, write_mode: append}"
    )
    pipeline = write_pipeline(tmp_path, text)
    place = tmp_path / "workdir"
    for run in (1, 2):
        out = run_pipeline(tmp_path, runner, pipeline, output_dir=place)
        assert out.result.status == "succeeded"
        assert out.result.output_dir == str(place)
        placed = (place / "out" / "rows.csv").read_text().splitlines()
        # one header, then the rows of every run so far; the session keeps this run's result
        assert placed[0] == '"id","label"'
        assert len(placed) == 1 + 3 * run
        kept = out.session / "artifacts" / "outputs" / "out" / "rows.csv"
        assert kept.read_text().splitlines() == placed


def test_step_failure_is_exit_1_with_step_and_code(tmp_path, runner):
    text = GENERATE_AND_WRITE.replace("batch_size: 1000}", "batch_size: 1000, fail_after: 1500}")
    out = run_pipeline(tmp_path, runner, write_pipeline(tmp_path, text))

    assert (out.result.status, out.result.exit_code) == ("failed", 1)
    assert out.result.error == {
        "code": "test.failure",
        "message": "generator failed after 1000 rows as configured",
        "step_id": "gen",
    }
    failed = {e["step"]: e["error_code"] for e in out.events() if e["event"] == "step_failed"}
    assert failed == {"gen": "test.failure", "write": "upstream.failed"}
    assert out.names()[-2:] == ["run_failed", "run_cleanup"]
    # the writer never renamed its temporary file into place
    assert not (out.session / "artifacts" / "outputs" / "out" / "rows.csv").exists()
    assert out.session_json()["status"] == "failed"


SLEEP = """
oml_version: "0.1.0"
name: sleepy
steps:
  - id: nap
    component: testkit.sleeper
    mode: extract
    config: {seconds: 30, heartbeat: 0.2, spawn_child: true}
"""


def _grandchild_pid(out):
    stdout = (out.session / "artifacts" / "stdout.txt").read_text()
    return int(next(line for line in stdout.splitlines() if "grandchild pid" in line).split()[-1])


def _alive(pid):
    # a zombie (killed, not yet reaped by whoever adopted it) is not alive
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def test_timeout_stops_the_run_and_leaves_no_orphans(tmp_path, runner):
    out = run_pipeline(
        tmp_path, runner, write_pipeline(tmp_path, SLEEP), run_settings=limits(timeout_seconds=2)
    )

    assert (out.result.status, out.result.exit_code) == ("failed", 4)
    assert out.result.error["code"] == "limit.timeout_seconds"
    failed = next(e for e in out.events() if e["event"] == "run_failed")
    assert failed["reason"] == "limit.timeout_seconds"
    assert "time limit of 2 s" in failed["message"]
    assert out.names()[-1] == "run_cleanup"
    assert not _alive(_grandchild_pid(out))


def test_idle_timeout(tmp_path, runner):
    text = SLEEP.replace("heartbeat: 0.2, spawn_child: true", "spawn_child: false")
    out = run_pipeline(
        tmp_path,
        runner,
        write_pipeline(tmp_path, text),
        run_settings=limits(idle_timeout_seconds=1),
    )

    assert out.result.exit_code == 4
    assert out.result.error["code"] == "limit.idle_timeout_seconds"
    assert out.result.error["message"] == "the run produced no output for 1 s"


def test_memory_limit(tmp_path, runner):
    text = """
    oml_version: "0.1.0"
    name: hungry
    steps:
      - id: hog
        component: testkit.hog
        mode: extract
        config: {mb: 600, seconds: 20}
    """
    out = run_pipeline(
        tmp_path, runner, write_pipeline(tmp_path, text), run_settings=limits(memory_mb=300)
    )

    assert out.result.exit_code == 4
    assert out.result.error["code"] == "limit.memory_mb"
    assert "over its memory limit of 300 MB" in out.result.error["message"]
    assert out.names()[-1] == "run_cleanup"


def test_dry_run_prepares_but_submits_nothing(tmp_path, runner):
    out = run_pipeline(tmp_path, runner, write_pipeline(tmp_path, GENERATE_AND_WRITE), dry_run=True)

    assert (out.result.status, out.result.exit_code) == ("dry_run", 0)
    assert out.names() == ["run_start", "run_prepare_env", "run_complete", "run_cleanup"]
    assert not (out.session / "artifacts" / "outputs" / "out").exists()


CONNECTED = """
oml_version: "0.1.0"
name: connected
steps:
  - id: probe
    component: testkit.probe
    mode: extract
    config: {connection: "@testdb"}
"""
CONNECTIONS = """
connections:
  testdb:
    main:
      default: true
      host: db.example.com
      port: 5432
      password: ${TESTDB_PASSWORD}
"""


def test_allow_list_violation_fails_before_submit(tmp_path, runner):
    write_pipeline(tmp_path, CONNECTIONS, name="osiris_connections.yaml")
    settings = copy.deepcopy(DEFAULT_RUN)
    settings["network"]["allow"] = ["127.0.0.1", "localhost"]
    out = run_pipeline(
        tmp_path,
        runner,
        write_pipeline(tmp_path, CONNECTED),
        env={"TESTDB_PASSWORD": "pw-123456"},
        run_settings=settings,
    )

    assert out.result.exit_code == 2
    assert out.result.error["message"] == (
        "connection @testdb.main (step 'probe') goes to db.example.com:5432, which the network "
        "allow-list does not allow"
    )
    assert "runner.network.allow" in out.result.error["hint"]
    assert "run_submit" not in out.names()
    assert out.names()[-1] == "run_cleanup"


def test_missing_env_var_fails_before_submit(tmp_path, runner):
    write_pipeline(tmp_path, CONNECTIONS, name="osiris_connections.yaml")
    out = run_pipeline(tmp_path, runner, write_pipeline(tmp_path, CONNECTED), env={})

    assert out.result.exit_code == 2
    assert out.result.error["message"] == "environment variable not set: TESTDB_PASSWORD"
    assert "run_submit" not in out.names()


def test_environment_is_scrubbed(tmp_path, runner, monkeypatch):
    monkeypatch.setenv("OSIRIS_TEST_CANARY", "parent-only-value")
    text = GENERATE_AND_WRITE.replace(
        "batch_size: 1000}", "batch_size: 1000, print_env: [OSIRIS_TEST_CANARY, PATH]}"
    )
    out = run_pipeline(tmp_path, runner, write_pipeline(tmp_path, text))

    stdout = (out.session / "artifacts" / "stdout.txt").read_text().splitlines()
    assert "env OSIRIS_TEST_CANARY=<unset>" in stdout
    assert any(line.startswith("env PATH=/") for line in stdout)
    lines = [e["line"] for e in out.events() if e["event"] == "run_stdout"]
    assert "env OSIRIS_TEST_CANARY=<unset>" in lines


FETCH = """
oml_version: "0.1.0"
name: fetch
steps:
  - id: fetch
    component: testkit.fetch
    mode: extract
    config: {host: "127.0.0.3", port: 9}
"""


def test_python_level_connections_outside_the_allow_list_are_refused(tmp_path, runner):
    settings = copy.deepcopy(DEFAULT_RUN)
    settings["network"]["allow"] = ["127.0.0.1", "localhost"]
    out = run_pipeline(tmp_path, runner, write_pipeline(tmp_path, FETCH), run_settings=settings)

    assert out.result.exit_code == 1
    assert out.result.error == {
        "code": "network.denied",
        "message": "network access to 127.0.0.3:9 is not allowed by runner.network.allow",
        "step_id": "fetch",
    }
