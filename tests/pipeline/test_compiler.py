from __future__ import annotations

import hashlib
from pathlib import Path

from osiris.pipeline.manifest import fingerprint, step_fingerprint
from testing.pipelines import MYSQL_TO_POSTGRES, compile_file, problems, write

P = Path("p.yaml")
HEAD = 'oml_version: "0.1.0"\nname: p\nsteps:\n'


def step(component: str, mode: str, config: str, sid: str = "s", needs: str = "[]") -> str:
    return (
        f"  - id: {sid}\n    component: {component}\n    mode: {mode}\n"
        f"    needs: {needs}\n    config: {config}\n"
    )


def compile_problems(text: str, **kwargs) -> list[str]:
    return problems(lambda: compile_file(write(P, text), **kwargs))


def test_manifest_shape(here):
    text = HEAD + step("fixture.csv_extractor", "extract", "{path: ./data/in.csv}", "read")
    text += step(
        "fixture.csv_writer", "write", "{path: out/x.csv, extra_paths: [a.csv]}", "w", "[read]"
    )
    path = write(P, text)
    m = compile_file(path, run_settings={"limits": {"timeout_seconds": 5}})
    data = dict(m.data)
    steps = data.pop("steps")
    assert steps[0] == {
        "id": "read",
        "component": "fixture.csv_extractor",
        "component_version": "0.1.0",
        "mode": "extract",
        "config": {"path": "./data/in.csv"},
        "connection": None,
        "needs": [],
        "inputs": ["data/in.csv"],
        "outputs": [],
        "fingerprint": step_fingerprint(steps[0]),
    }
    assert steps[1]["needs"] == ["read"]
    assert steps[1]["outputs"] == ["out/x.csv", "a.csv"]
    body = {k: v for k, v in m.data.items() if k != "fingerprint"}
    assert data.pop("fingerprint") == fingerprint(body) == m.fingerprint
    assert data == {
        "manifest_version": "0.1",
        "osiris_version": "0.1.0",
        "pipeline": {
            "name": "p",
            "description": "",
            "metadata": {},
            "oml_version": "0.1.0",
            "file": "p.yaml",
        },
        "params": {},
        "connections": {},
        "env": {"required": [], "optional": [], "secret": []},
        "run": {
            "limits": {
                "timeout_seconds": 5,
                "idle_timeout_seconds": 600,
                "memory_mb": None,
                "cpu": None,
            },
            "network": {"allow": ["*"], "connect_timeout_seconds": 30.0},
            "steps": {"max_parallel": 4, "on_failure": "stop"},
        },
        "fingerprints": {
            "oml": "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(),
            "steps": {"read": steps[0]["fingerprint"], "w": steps[1]["fingerprint"]},
            "components": {"fixture.csv_extractor": "0.1.0", "fixture.csv_writer": "0.1.0"},
            "osiris": "0.1.0",
        },
    }


def test_step_fingerprint_covers_config_but_not_the_id(here):
    one = compile_file(write(P, HEAD + step("fixture.sql_transform", "transform", "{query: a}")))
    two = compile_file(write(P, HEAD + step("fixture.sql_transform", "transform", "{query: b}")))
    three = compile_file(
        write(P, HEAD + step("fixture.sql_transform", "transform", "{query: a}", "other"))
    )
    fp = [m.data["steps"][0]["fingerprint"] for m in (one, two, three)]
    assert fp[0] != fp[1]
    assert fp[0] == fp[2]
    assert one.fingerprint != three.fingerprint


def test_unknown_component_and_mode(here):
    text = HEAD + step("fixture.csv_extractr", "extract", "{}", "a")
    text += step("fixture.sql_transform", "write", "{query: q}", "b")
    text += step("nothing.like_it", "write", "{}", "c")
    assert compile_problems(text) == [
        "p.yaml:5:16: step 'a' → component: unknown component 'fixture.csv_extractr' "
        "(hint: did you mean 'fixture.csv_extractor'?)",
        "p.yaml:11:11: step 'b' → mode: component 'fixture.sql_transform' does not support "
        "mode 'write' (hint: use transform)",
        "p.yaml:15:16: step 'c' → component: unknown component 'nothing.like_it' "
        "(hint: run `osiris components list` to see the available ones)",
    ]


def test_config_schema_errors_are_located(here):
    text = HEAD + step("fixture.csv_extractor", "extract", "{pth: x, delimiter: '|', limit: 0}")
    text += step("fixture.sql_transform", "transform", "{query: 5, threshold: x}", "t")
    text += step("fixture.mysql_extractor", "extract", "{connection: '@mysql'}", "m")
    assert compile_problems(text, connections_file=write(Path("c.yaml"), CONNS)) == [
        "p.yaml:8:13: step 's' → config: missing required key 'path' "
        "(hint: add `path:` (CSV file to read, relative to the pipeline))",
        "p.yaml:8:14: step 's' → config.pth: unknown key 'pth' (hint: did you mean 'path'?)",
        'p.yaml:8:33: step \'s\' → config.delimiter: must be one of: ",", ";", "\\t"; '
        "got string '|'",
        "p.yaml:8:45: step 's' → config.limit: 0 is less than the minimum of 1",
        "p.yaml:13:21: step 't' → config.query: expected a string, got integer 5",
        "p.yaml:13:35: step 't' → config.threshold: expected a number, got string 'x'",
        "p.yaml:18:13: step 'm' → config: needs one of 'table', 'query'",
    ]


CONNS = """
connections:
  mysql:
    main:
      host: ${DB_HOST:-127.0.0.1}
      port: 3306
      user: root
      password: ${DB_PASSWORD}
  postgres:
    dw:
      host: pg.internal
      password: ""
"""


def test_connection_references(here):
    write(Path("osiris_connections.yaml"), CONNS)
    text = HEAD + step("fixture.mysql_extractor", "extract", "{connection: mysql, table: t}", "a")
    text += step(
        "fixture.mysql_extractor", "extract", "{connection: '@postgres.dw', table: t}", "b"
    )
    text += step("fixture.mysql_extractor", "extract", "{connection: '@mysql.nope', table: t}", "c")
    text += step("fixture.csv_extractor", "extract", "{connection: '@mysql', path: x}", "d")
    text += step("fixture.postgres_writer", "write", "{connection: '@pg', table: t}", "e")
    assert compile_problems(text) == [
        "p.yaml:8:26: step 'a' → config.connection: invalid connection reference 'mysql' "
        "(hint: write @mysql.<alias>, or @mysql for the family default)",
        "p.yaml:13:26: step 'b' → config.connection: component 'fixture.mysql_extractor' needs "
        "a mysql connection, got '@postgres.dw' "
        "(hint: use @mysql.<alias>, or @mysql for the family default)",
        "p.yaml:18:26: step 'c' → config.connection: connection '@mysql.nope' is not defined "
        "in osiris_connections.yaml (hint: defined mysql aliases: main)",
        "p.yaml:23:26: step 'd' → config.connection: component 'fixture.csv_extractor' takes "
        "no connection (hint: remove `connection`)",
        "p.yaml:28:26: step 'e' → config.connection: component 'fixture.postgres_writer' "
        "needs a postgres connection, got '@pg' "
        "(hint: use @postgres.<alias>, or @postgres for the family default)",
    ]


def test_undefined_family(here):
    write(Path("osiris_connections.yaml"), "connections:\n  mysql:\n    a: {host: h, user: u}\n")
    text = HEAD + step("fixture.postgres_writer", "write", "{connection: '@postgres', table: t}")
    assert compile_problems(text) == [
        "p.yaml:8:26: step 's' → config.connection: connection family 'postgres' is not defined "
        "in osiris_connections.yaml (hint: add `postgres:` under `connections:` "
        "(defined families: mysql))"
    ]


def test_connections_in_the_manifest(here):
    write(Path("osiris_connections.yaml"), CONNS)
    text = HEAD + step("fixture.mysql_extractor", "extract", "{connection: '@mysql', table: t}")
    text += step(
        "fixture.postgres_writer", "write", "{connection: '@postgres.dw', table: t}", "w", "[s]"
    )
    m = compile_file(write(P, text))
    assert [(s["config"]["connection"], s["connection"]) for s in m.data["steps"]] == [
        ("@mysql", "@mysql.main"),
        ("@postgres.dw", "@postgres.dw"),
    ]
    assert m.data["connections"] == {
        "@mysql.main": {
            "family": "mysql",
            "alias": "main",
            "fields": {
                "host": "${DB_HOST:-127.0.0.1}",
                "port": 3306,
                "user": "root",
                "password": "${DB_PASSWORD}",
            },
            "secret_fields": ["password"],
            "env": ["DB_HOST", "DB_PASSWORD"],
        },
        "@postgres.dw": {
            "family": "postgres",
            "alias": "dw",
            "fields": {"host": "pg.internal", "password": ""},
            "secret_fields": ["password"],
            "env": [],
        },
    }
    assert m.data["env"] == {
        "required": ["DB_PASSWORD"],
        "optional": ["DB_HOST"],
        "secret": ["DB_PASSWORD"],
    }


def test_connections_file_lookup_order(here):
    (here / "pipes").mkdir()
    text = HEAD + step("fixture.mysql_extractor", "extract", "{connection: '@mysql', table: t}")
    pipeline = write(Path("pipes/p.yaml"), text)
    assert problems(lambda: compile_file(pipeline)) == [
        "pipes/p.yaml:8:26: step 's' → config.connection: connection '@mysql' cannot be "
        f"resolved: no osiris_connections.yaml found (looked for "
        f"pipes/osiris_connections.yaml and {here}/osiris_connections.yaml) "
        "(hint: create osiris_connections.yaml next to the pipeline; see docs/pipelines.md)"
    ]
    write(here / "osiris_connections.yaml", CONNS.replace("main:", "from_cwd:"))
    assert compile_file(pipeline).data["steps"][0]["connection"] == "@mysql.from_cwd"
    write(Path("pipes/osiris_connections.yaml"), CONNS.replace("main:", "beside:"))
    assert compile_file(pipeline).data["steps"][0]["connection"] == "@mysql.beside"
    explicit = write(Path("elsewhere.yaml"), CONNS.replace("main:", "explicit:"))
    m = compile_file(pipeline, connections_file=explicit)
    assert m.data["steps"][0]["connection"] == "@mysql.explicit"
    assert problems(lambda: compile_file(pipeline, connections_file=Path("nope.yaml"))) == [
        "nope.yaml: cannot read the file: No such file or directory (hint: check the path)"
    ]


def test_pipelines_without_connections_ignore_a_broken_connections_file(here):
    write(Path("osiris_connections.yaml"), "connections: [broken\n")
    m = compile_file(write(P, HEAD + step("fixture.sql_transform", "transform", "{query: q}")))
    assert m.data["connections"] == {}


def test_literal_secrets_in_the_pipeline_are_errors(here):
    text = HEAD + step(
        "fixture.http_extractor",
        "extract",
        "{url: 'https://api', token: hunter2, auth: {key: '${KEY:-dflt}'}}",
        "api",
    )
    text += step("fixture.http_extractor", "extract", "{url: u, token: '${params.t}'}", "p")
    assert compile_problems(text) == [
        "p.yaml:8:41: step 'api' → config.token: 'token' is a secret and must come from an "
        "environment variable, not a literal value "
        "(hint: write `token: ${API_TOKEN}` and export API_TOKEN where the pipeline runs)",
        "p.yaml:8:62: step 'api' → config.auth.key: 'key' is a secret and must come from an "
        "environment variable, not a literal value "
        "(hint: write `key: ${API_AUTH_KEY}` and export API_AUTH_KEY where the pipeline runs)",
        "p.yaml:13:29: step 'p' → config.token: 'token' is a secret and must come from an "
        "environment variable, not a literal value "
        "(hint: write `token: ${P_TOKEN}` and export P_TOKEN where the pipeline runs)",
        "p.yaml:13:29: step 'p' → config.token: unknown parameter 't' in '${params.t}' "
        "(hint: declare 't' under `params:`)",
    ]


def test_secret_env_references_in_config(here):
    config = "{url: 'https://x/${API_PATH:-v1}', token: '${API_TOKEN}', auth: {key: '${K}'}}"
    m = compile_file(write(P, HEAD + step("fixture.http_extractor", "extract", config)))
    assert m.data["steps"][0]["config"]["token"] == "${API_TOKEN}"
    assert m.data["env"] == {
        "required": ["API_TOKEN", "K"],
        "optional": ["API_PATH"],
        "secret": ["API_TOKEN", "K"],
    }


def test_literal_secrets_in_the_connections_file_are_errors(here):
    write(
        Path("osiris_connections.yaml"),
        """
        connections:
          mysql:
            main: {host: h, user: u, password: hunter2, port: "${PORT:-3306}"}
          postgres:
            dw: {dsn: "postgres://u:p@h/db", password: "${PG:-x}", default: yes}
        """,
    )
    text = HEAD + step("fixture.mysql_extractor", "extract", "{connection: '@mysql', table: t}")
    text += step("fixture.postgres_writer", "write", "{connection: '@postgres', table: t}", "w")
    assert compile_problems(text) == [
        "osiris_connections.yaml:3:40: connections.mysql.main.password: field 'password' is a "
        "secret and must come from an environment variable, not a literal value "
        "(hint: write `password: ${MYSQL_PASSWORD}` and export MYSQL_PASSWORD where the "
        "pipeline runs)",
        "osiris_connections.yaml:5:15: connections.postgres.dw.dsn: field 'dsn' is a secret and "
        "must come from an environment variable, not a literal value "
        "(hint: write `dsn: ${POSTGRES_DSN}` and export POSTGRES_DSN where the pipeline runs)",
    ]


def test_connection_fields_are_checked_against_the_connection_schema(here):
    write(
        Path("osiris_connections.yaml"),
        "connections:\n  mysql:\n    main: {host: h, port: '3306', pasword: x}\n",
    )
    text = HEAD + step("fixture.mysql_extractor", "extract", "{connection: '@mysql', table: t}")
    assert compile_problems(text) == [
        "osiris_connections.yaml:3:11: connections.mysql.main: missing required key 'user' "
        "(hint: add `user:`)",
        "osiris_connections.yaml:3:27: connections.mysql.main.port: expected an integer, "
        "got string '3306'",
        "osiris_connections.yaml:3:35: connections.mysql.main.pasword: unknown key 'pasword' "
        "(hint: did you mean 'password'?)",
    ]


def test_paths_must_stay_relative(here):
    text = HEAD + step("fixture.csv_extractor", "extract", "{path: /etc/passwd}", "a")
    text += step("fixture.csv_extractor", "extract", "{path: data/../../x.csv}", "b")
    text += step("fixture.csv_writer", "write", "{path: 'C:\\out.csv'}", "c")
    text += step("fixture.csv_writer", "write", "{path: '${OUT_DIR}/x.csv'}", "d")
    assert compile_problems(text) == [
        "p.yaml:8:20: step 'a' → config.path: '/etc/passwd' is an absolute path; a step reads "
        "files by relative path (hint: make it relative to the pipeline's directory)",
        "p.yaml:13:20: step 'b' → config.path: 'data/../../x.csv' leaves the pipeline's "
        "directory (hint: use a path inside the pipeline's directory)",
        "p.yaml:18:20: step 'c' → config.path: 'C:\\out.csv' is an absolute path; a step writes "
        "files by relative path (hint: make it relative to the run's output area)",
    ]


def test_fixture_with_connections_compiles():
    m = compile_file(MYSQL_TO_POSTGRES, environ={"OSIRIS_PARAM_BATCH": "10"})
    assert [s["id"] for s in m.data["steps"]] == [
        "extract_customers",
        "extract_orders",
        "load_customers",
        "load_orders",
    ]
    assert m.data["steps"][0]["config"]["batch_size"] == 10
    assert m.data["env"]["required"] == ["PG_PASSWORD", "REPORTING_PASSWORD"]
    assert "x-note" not in m.data["connections"]["@postgres.warehouse"]["fields"]
