"""Upstream Osiris's CLI habits: compile then run, `oml validate`, `logs last`, `connections`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from testing.runner_helpers import osiris_cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def quickstart(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def session_of(cwd: Path) -> dict:
    (path,) = cwd.joinpath("logs").glob("run_*/session.json")
    return json.loads(path.read_text())


def test_compile_then_run_last_compile(quickstart):
    proc = osiris_cli("compile", "examples/quickstart.yaml", cwd=quickstart)
    assert proc.returncode == 0, proc.stderr
    kept = quickstart / ".osiris" / "last_compile"
    manifest = Path(kept.read_text().strip())
    assert manifest.read_text() == proc.stdout  # what compile printed is what it kept
    assert "run it with `osiris run --last-compile`" in proc.stderr

    ran = osiris_cli("run", "--last-compile", cwd=quickstart)
    assert ran.returncode == 0, ran.stderr
    info = session_of(quickstart)
    assert info["fingerprint"] == json.loads(proc.stdout)["fingerprint"]
    assert info["pipeline"]["file"] == str((quickstart / "examples/quickstart.yaml").resolve())
    assert info["outputs"] == ["output/revenue.csv", "output/revenue.parquet"]
    assert (quickstart / "output" / "revenue.csv").read_text().count("\n") == 13
    session = next(quickstart.joinpath("logs").iterdir())
    # the session keeps the pipeline the manifest came from
    assert (session / "artifacts" / "pipeline.yaml").read_text() == (
        quickstart / "examples/quickstart.yaml"
    ).read_text()


def test_run_a_manifest_file(quickstart):
    assert (
        osiris_cli(
            "compile", "examples/quickstart.yaml", "--out", "build/m.json", cwd=quickstart
        ).returncode
        == 0
    )
    ran = osiris_cli("run", "build/m.json", cwd=quickstart)
    assert ran.returncode == 0, ran.stderr
    assert session_of(quickstart)["status"] == "succeeded"

    # parameters and limits were bound when compiling
    proc = osiris_cli("run", "build/m.json", "--param", "min_revenue=5", cwd=quickstart)
    assert proc.returncode == 2
    assert "--param cannot change a compiled manifest" in proc.stderr
    proc = osiris_cli("run", "build/m.json", "--timeout", "5", cwd=quickstart)
    assert proc.returncode == 2
    assert "--timeout cannot change a compiled manifest" in proc.stderr

    edited = quickstart / "build" / "m.json"
    edited.write_text(edited.read_text().replace('"min_revenue":0', '"min_revenue":1'))
    proc = osiris_cli("run", "build/m.json", cwd=quickstart)
    assert proc.returncode == 2
    assert "does not match its fingerprint" in proc.stderr


def test_last_compile_without_a_compile(tmp_path):
    proc = osiris_cli("run", "--last-compile", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no compiled pipeline in this directory")
    assert "run `osiris compile <pipeline>` first" in proc.stderr


def test_oml_validate_is_validate(quickstart):
    plain = osiris_cli("validate", "examples/quickstart.yaml", "--format", "json", cwd=quickstart)
    oml = osiris_cli(
        "oml", "validate", "examples/quickstart.yaml", "--format", "json", cwd=quickstart
    )
    assert oml.returncode == plain.returncode == 0
    assert json.loads(oml.stdout) == json.loads(plain.stdout)


def test_logs_last(quickstart):
    assert osiris_cli("run", "examples/quickstart.yaml", cwd=quickstart).returncode == 0
    info = session_of(quickstart)
    proc = osiris_cli("logs", "last", "--json", cwd=quickstart)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["id"] == info["session_id"]
    text = osiris_cli("logs", "last", cwd=quickstart)
    assert text.stdout.splitlines()[0].split() == ["session", info["session_id"]]


CONNECTIONS = """
version: 1
connections:
  mysql:
    db_movies:
      default: true
      host: 127.0.0.1
      port: 3306
      database: test
      username: root
      password: ${DOCTOR_MYSQL_PASSWORD:-}
    closed: {host: 127.0.0.1, port: 9, user: root, password: "${DOCTOR_CLOSED_PW}"}
  postgres:
    main: {host: 127.0.0.1, user: postgres, database: test}
  supabase:
    project:
      url: https://abcdefghijklmnop.supabase.co
      service_role_key: ${DOCTOR_SUPABASE_KEY}
  duckdb:
    local: {default: true, path: ./local.duckdb}
"""


@pytest.mark.db
def test_connections_list_and_doctor(tmp_path):
    (tmp_path / "osiris_connections.yaml").write_text(CONNECTIONS)
    secret = "doctor-secret-Zq8"
    # loopback only: the Supabase project is refused before any traffic leaves the machine
    env = {
        "DOCTOR_CLOSED_PW": secret,
        "DOCTOR_SUPABASE_KEY": secret + "-key",
        "OSIRIS_RUNNER__NETWORK__ALLOW": '["127.0.0.1", "localhost"]',
    }
    listed = osiris_cli("connections", "list", "--json", cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {r["ref"]: r for r in json.loads(listed.stdout)["connections"]}
    assert rows["@mysql.db_movies"]["default"] is True
    assert rows["@mysql.closed"]["default"] is False
    assert rows["@mysql.closed"]["env"] == {"DOCTOR_CLOSED_PW": True}
    assert rows["@supabase.project"]["fields"]["service_role_key"] == "${DOCTOR_SUPABASE_KEY}"
    assert secret not in listed.stdout

    doctor = osiris_cli("connections", "doctor", cwd=tmp_path, env=env)
    assert doctor.returncode == 1  # @mysql.closed and the unreachable Supabase project fail
    lines = {line.split()[1]: line for line in doctor.stdout.splitlines()}
    assert lines["@mysql.db_movies"].startswith("ok ")
    assert "MariaDB" in lines["@mysql.db_movies"]
    assert lines["@postgres.main"].startswith("ok ")
    assert lines["@duckdb.local"].startswith("ok ")
    assert lines["@mysql.closed"].split()[:3] == ["failed", "@mysql.closed", "connection.refused:"]
    assert lines["@supabase.project"].split()[:3] == [
        "failed",
        "@supabase.project",
        "network.denied:",
    ]
    assert secret not in doctor.stdout + doctor.stderr

    # one family, one alias; the network allow-list applies as it does to runs
    one = osiris_cli(
        "connections",
        "doctor",
        "--family",
        "mysql",
        "--alias",
        "db_movies",
        "--json",
        cwd=tmp_path,
        env=env,
    )
    assert one.returncode == 0, one.stdout
    assert [r["ref"] for r in json.loads(one.stdout)["results"]] == ["@mysql.db_movies"]
    denied = osiris_cli("connections", "doctor", "--family", "supabase", cwd=tmp_path, env=env)
    assert denied.returncode == 1
    assert "network.denied: abcdefghijklmnop.supabase.co:443 is not allowed" in denied.stdout
    missing = osiris_cli("connections", "doctor", "--family", "nope", cwd=tmp_path)
    assert missing.returncode == 2
    assert "no connection matches family nope" in missing.stderr
