"""E2BRunner specifics against the E2B stand-in: parity with local, faults, where secrets go."""

from __future__ import annotations

import pytest

from osiris.runners.e2b import E2BRunner, network_options
from osiris.runners.local import LocalRunner
from osiris.session.bundle import bundle_session
from testing.e2b_standin import standin_env
from testing.runner_helpers import run_pipeline, write_pipeline

PIPELINE = """
oml_version: "0.1.0"
name: parity
steps:
  - id: gen
    component: testkit.generator
    mode: extract
    config: {rows: 3000, batch_size: 700, stderr_line: "generator says hi"}
  - id: totals
    component: duckdb.processor
    mode: transform
    needs: [gen]
    config: {query: "select count(*) as n, sum(id) as s from gen"}
  - id: write_rows
    component: filesystem.parquet_writer
    mode: write
    needs: [gen]
    config: {path: rows.parquet}
  - id: write_totals
    component: filesystem.csv_writer
    mode: write
    needs: [totals]
    config: {path: out/totals.csv}
"""
HOST_IDS = {"pid", "sandbox_id"}
VOLATILE = {"ts", "session", "duration_ms"}
TRANSPORT_METRICS = {
    "sandbox_create_ms",
    "bytes_uploaded",
    "bytes_downloaded",
    "remote_execution_ms",
}


def normalized_events(out):
    events = []
    for raw in out.events():
        e = {k: ("<host-id>" if k in HOST_IDS else v) for k, v in raw.items() if k not in VOLATILE}
        if "pid" in e or "sandbox_id" in e:
            e["host_id"] = e.pop("pid", None) or e.pop("sandbox_id")
        e.pop("executor", None)
        events.append(e)
    # the order of stdout vs stderr lines is not defined across two streams
    return sorted(events, key=lambda e: e["event"] in ("run_stdout", "run_stderr")), events


def test_local_and_e2b_give_the_same_run(tmp_path, e2b_standin):
    pipeline = write_pipeline(tmp_path, PIPELINE)
    local = run_pipeline(tmp_path / "local", LocalRunner(), pipeline)
    remote = run_pipeline(tmp_path / "e2b", E2BRunner(image="osiris"), pipeline)

    assert local.result.exit_code == remote.result.exit_code == 0
    (l_sorted, l_events), (r_sorted, r_events) = normalized_events(local), normalized_events(remote)
    assert [e["event"] for e in l_events if not e["event"].startswith("run_std")] == [
        e["event"] for e in r_events if not e["event"].startswith("run_std")
    ]
    assert sorted(map(str, l_sorted)) == sorted(map(str, r_sorted))
    l_metrics = {(m["metric"], m["tags"].get("step")): m for m in local.metrics()}
    r_metrics = {
        (m["metric"], m["tags"].get("step")): m
        for m in remote.metrics()
        if m["metric"] not in TRANSPORT_METRICS
    }
    assert l_metrics.keys() == r_metrics.keys()
    for key in l_metrics:
        if key[0] in ("rows_read", "rows_written"):
            assert l_metrics[key]["value"] == r_metrics[key]["value"]
    assert {m["metric"] for m in remote.metrics()} >= TRANSPORT_METRICS
    for rel in ("rows.parquet", "out/totals.csv"):
        assert (local.session / "artifacts/outputs" / rel).read_bytes() == (
            remote.session / "artifacts/outputs" / rel
        ).read_bytes()
    cleanup = remote.events()[-1]
    assert cleanup["event"] == "run_cleanup" and cleanup["removed"] is True
    assert cleanup["sandbox_id"] == e2b_standin.history[0].sandbox_id


def _run_e2b(tmp_path, *, env=None, image="osiris", text=PIPELINE):
    return run_pipeline(tmp_path, E2BRunner(image=image), write_pipeline(tmp_path, text), env=env)


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (401, "E2B rejected the API key while creating the sandbox"),
        (
            500,
            "E2B error while creating the sandbox: 500: Failed to create sandbox: internal error",
        ),
    ],
)
def test_create_failures(tmp_path, e2b_standin, status, message):
    e2b_standin.faults.create_errors = [status]
    out = _run_e2b(tmp_path)
    assert out.result.exit_code == 4
    assert out.result.error["message"] == message
    assert out.names()[-2:] == ["run_failed", "run_cleanup"]
    assert out.session_json()["status"] == "failed"
    assert bundle_session(out.session).is_file()


def test_rate_limit_then_success_is_retried_by_the_sdk(tmp_path, e2b_standin):
    e2b_standin.faults.create_errors = [429]
    out = _run_e2b(tmp_path)
    assert out.result.exit_code == 0
    assert len(e2b_standin.history) == 1


def test_unknown_template(tmp_path, e2b_standin):
    out = _run_e2b(tmp_path, image="no-such-template")
    assert out.result.exit_code == 4
    assert out.result.error["message"] == "E2B template 'no-such-template' not found"


SLOW = """
oml_version: "0.1.0"
name: slow
steps:
  - id: nap
    component: testkit.sleeper
    mode: extract
    config: {seconds: 20, heartbeat: 0.3}
"""


def test_sandbox_dies_mid_run(tmp_path, e2b_standin):
    e2b_standin.faults.die_on_output = "heartbeat"
    out = _run_e2b(tmp_path, text=SLOW)
    assert out.result.exit_code == 4
    assert out.result.error["code"] == "runner.error"
    assert "the sandbox" in out.result.error["message"]
    assert [r.end_reason for r in e2b_standin.history] == ["died"]
    assert out.names()[-1] == "run_cleanup"
    assert out.session_json()["status"] == "failed"
    assert bundle_session(out.session).is_file()


def test_stream_drop_ends_the_run_and_kills_the_sandbox(tmp_path, e2b_standin):
    e2b_standin.faults.drop_stream_on_output = "heartbeat"
    out = _run_e2b(tmp_path, text=SLOW)
    assert out.result.exit_code == 4
    assert out.result.error["message"] == (
        "the executor's output stream dropped while running the executor"
    )
    assert [r.end_reason for r in e2b_standin.history] == ["killed"]
    assert out.session_json()["status"] == "failed"
    assert bundle_session(out.session).is_file()


def test_slow_upload_still_runs(tmp_path, e2b_standin):
    e2b_standin.faults.upload_delay = 0.5
    out = _run_e2b(tmp_path)
    assert out.result.exit_code == 0
    uploaded = {u.path for u in e2b_standin.history[0].uploads}
    assert "/home/user/osiris-run/manifest.json" in uploaded


def test_missing_api_key_is_a_usage_error(tmp_path, e2b_standin, monkeypatch):
    monkeypatch.delenv("E2B_API_KEY")
    out = _run_e2b(tmp_path)
    assert out.result.exit_code == 2
    assert out.result.error["message"] == "E2B_API_KEY is not set"
    assert e2b_standin.history == []


CONNECTED = """
oml_version: "0.1.0"
name: connected
steps:
  - id: probe
    component: testkit.probe
    mode: extract
    config: {connection: "@testdb", token: "${PROBE_TOKEN}"}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [probe]
    config: {path: probe.csv}
"""
CONNECTIONS = """
connections:
  testdb:
    main:
      default: true
      host: 127.0.0.1
      password: ${TESTDB_PASSWORD}
"""


def test_secrets_reach_the_sandbox_only_as_env_vars(tmp_path, monkeypatch):
    secret, token = "e2b-canary-pw-31337", "e2b-canary-token-4242"
    write_pipeline(tmp_path, CONNECTIONS, name="osiris_connections.yaml")
    with standin_env(monkeypatch, templates=("osiris",), keep_dirs=True) as standin:
        out = _run_e2b(
            tmp_path, text=CONNECTED, env={"TESTDB_PASSWORD": secret, "PROBE_TOKEN": token}
        )
        record = standin.history[0]
    assert out.result.exit_code == 0, out.result.error
    assert record.envs == {"TESTDB_PASSWORD": secret, "PROBE_TOKEN": token}
    for command in record.commands:
        assert secret not in " ".join(command.argv) and token not in " ".join(command.argv)
        assert secret not in str(command.envs) and token not in str(command.envs)
    # nothing written into the sandbox's filesystem holds a secret
    for path in record.root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and token.encode() not in data, path
    # and the session saw the probe print them, masked
    assert "with password ***" in (out.session / "artifacts/stdout.txt").read_text()


def test_network_allow_list_maps_to_outbound_rules():
    assert network_options(["*"]) == (None, [])
    rules, notes = network_options(
        ["db.example.com:5432", "https://api.example.com/v1", "10.0.0.5"]
    )
    assert rules == {
        "allow_out": ["db.example.com", "api.example.com", "10.0.0.5"],
        "deny_out": ["0.0.0.0/0"],
    }
    assert notes == [
        "network allow entry 'db.example.com:5432' is applied as host 'db.example.com' "
        "(E2B outbound rules cannot restrict ports or paths)",
        "network allow entry 'https://api.example.com/v1' is applied as host 'api.example.com' "
        "(E2B outbound rules cannot restrict ports or paths)",
    ]


def test_allow_list_is_sent_to_e2b(tmp_path, e2b_standin):
    import copy

    from testing.runner_helpers import DEFAULT_RUN

    settings = copy.deepcopy(DEFAULT_RUN)
    settings["network"]["allow"] = ["127.0.0.1", "db.internal:3306"]
    out = run_pipeline(
        tmp_path,
        E2BRunner(image="osiris"),
        write_pipeline(tmp_path, PIPELINE),
        run_settings=settings,
    )
    assert out.result.exit_code == 0
    network = e2b_standin.history[0].request["network"]
    assert network == {"allowOut": ["127.0.0.1", "db.internal"], "denyOut": ["0.0.0.0/0"]}
    notices = [e["message"] for e in out.events() if e["event"] == "run_notice"]
    assert notices == [
        "network allow entry 'db.internal:3306' is applied as host 'db.internal' "
        "(E2B outbound rules cannot restrict ports or paths)"
    ]
