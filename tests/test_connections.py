from __future__ import annotations

from pathlib import Path

import pytest

from osiris.connections import (
    check_env,
    find_connections_file,
    load_connections,
    resolve_connection,
    substitute,
)
from osiris.errors import ConnectionsError
from testing.pipelines import MYSQL_TO_POSTGRES, compile_file, problems, write


def test_substitute():
    env = {"HOST": "db", "EMPTY": ""}
    assert substitute("${HOST}:${PORT:-3306}", env, where="x") == "db:3306"
    # `:-` uses the default for unset and for empty, as the shell does.
    assert substitute("${EMPTY:-fallback}", env, where="x") == "fallback"
    assert substitute("${EMPTY}", env, where="x") == ""
    with pytest.raises(ConnectionsError) as err:
        substitute("${NOPE}", env, where="connection @mysql.default", field="host")
    assert err.value.message == (
        "connection @mysql.default: environment variable NOPE is not set (field host)"
    )
    with pytest.raises(ConnectionsError) as err:
        substitute("${BROKEN", env, where="somewhere")
    assert err.value.message == "somewhere: '${BROKEN' is missing its closing '}'"


ENTRY = {
    "family": "mysql",
    "alias": "default",
    "fields": {
        "host": "${MYSQL_HOST:-127.0.0.1}",
        "port": 3306,
        "password": "${MYSQL_PASSWORD}",
        "options": {"ssl": "${SSL:-off}", "list": ["${MYSQL_HOST:-h}"]},
    },
    "secret_fields": ["password"],
    "env": ["MYSQL_HOST", "MYSQL_PASSWORD", "SSL"],
}


def test_resolve_connection():
    assert resolve_connection(ENTRY, {"MYSQL_PASSWORD": "pw", "SSL": "on"}) == {
        "host": "127.0.0.1",
        "port": 3306,
        "password": "pw",
        "options": {"ssl": "on", "list": ["h"]},
    }
    with pytest.raises(ConnectionsError) as err:
        resolve_connection(ENTRY, {})
    assert err.value.message == (
        "connection @mysql.default: environment variable MYSQL_PASSWORD is not set (field password)"
    )
    assert err.value.hint == "export MYSQL_PASSWORD=... or add a default: ${MYSQL_PASSWORD:-...}"


def test_check_env():
    manifest = compile_file(MYSQL_TO_POSTGRES)
    assert check_env(manifest.data, {}) == ["PG_PASSWORD", "REPORTING_PASSWORD"]
    assert check_env(manifest.data, {"PG_PASSWORD": "", "REPORTING_PASSWORD": "x"}) == []


def test_find_connections_file(tmp_path):
    pipeline = tmp_path / "a" / "p.yaml"
    explicit = tmp_path / "explicit.yaml"
    assert find_connections_file(pipeline, explicit, tmp_path) == (explicit, [explicit])
    looked = [tmp_path / "a" / "osiris_connections.yaml", tmp_path / "osiris_connections.yaml"]
    assert find_connections_file(pipeline, None, tmp_path) == (None, looked)
    write(looked[1], "connections: {}\n")
    assert find_connections_file(pipeline, None, tmp_path) == (looked[1], looked)
    write(looked[0], "connections: {}\n")
    assert find_connections_file(pipeline, None, tmp_path) == (looked[0], looked)


FAMILY = """
connections:
  mysql:
{aliases}
"""


@pytest.mark.parametrize(
    ("aliases", "expected"),
    [
        ("    a: {host: a}\n    b: {host: b, default: true}", "b"),
        ("    a: {host: a}\n    default: {host: d}", "default"),
        ("    only: {host: o}", "only"),
        ("    a: {host: a, default: false}\n    default: {host: d, default: true}", "default"),
    ],
)
def test_family_default(tmp_path, aliases, expected):
    conns = load_connections(write(tmp_path / "c.yaml", FAMILY.format(aliases=aliases)))
    conn, message, _ = conns.lookup("@mysql")
    assert conn is not None, message
    assert conn.alias == expected
    assert conns.lookup(f"@mysql.{expected}")[0] == conn


def test_family_without_a_default(tmp_path):
    # upstream Osiris's rule: `default: true`, else the alias named `default`, else an error
    # (and here a family's only alias is its default)
    aliases = "    a: {host: a}\n    b: {host: b}"
    conns = load_connections(write(tmp_path / "c.yaml", FAMILY.format(aliases=aliases)))
    assert conns.lookup("@mysql") == (
        None,
        "'@mysql' needs a default connection, but family 'mysql' has several aliases, none "
        "marked `default: true` and none named `default`",
        "mark one with `default: true` or write @mysql.<alias> (aliases: a, b)",
    )


def test_connections_file_problems(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(
        Path("c.yaml"),
        """
        connections:
          mysql:
            a: {host: h, default: true}
            b: {host: h, default: true}
            c: {host: "${X", default: maybe}
            Bad Alias: {}
            d: just-a-string
          Bad: {}
          pg: [1]
        extra: 1
        """,
    )
    assert problems(lambda: load_connections(path)) == [
        "c.yaml:4:27: connections.mysql.b.default: family 'mysql' has more than one default: "
        "a and b (hint: keep `default: true` on one alias only)",
        "c.yaml:5:15: connections.mysql.c.host: '${X' is missing its closing '}' "
        "(hint: write ${VAR} or ${VAR:-default}; write $${ for a literal ${)",
        "c.yaml:5:31: connections.mysql.c.default: `default` must be true or false "
        "(hint: write `default: true` to mark the family default)",
        "c.yaml:6:5: connections.mysql.Bad Alias: invalid alias 'Bad Alias' "
        "(hint: use lower-case letters, digits, '-' and '_')",
        "c.yaml:7:8: connections.mysql.d: connection @mysql.d must be a mapping of fields "
        "(hint: write its fields (host, port, ...) below it)",
        "c.yaml:8:3: connections.Bad: invalid family name 'Bad' "
        "(hint: use lower-case letters, digits and '_')",
        "c.yaml:9:7: connections.pg: family 'pg' must be a mapping of aliases "
        "(hint: write `<alias>:` with its fields below)",
        "c.yaml:10:1: extra: unknown key 'extra' (hint: the top-level keys are `version` "
        "(optional) and `connections`)",
    ]
    write(path, "- not a mapping\n")
    assert problems(lambda: load_connections(path)) == [
        "c.yaml:1:1: a connections file must be a mapping with a `connections:` mapping of "
        "families (hint: write `connections:` then `<family>:` then `<alias>:` with its fields)"
    ]


def test_params_references_are_not_allowed_in_connections(tmp_path):
    path = write(tmp_path / "c.yaml", "connections:\n  m:\n    a: {host: '${params.h}'}\n")
    assert [p.split(" (hint")[0] for p in problems(lambda: load_connections(path))] == [
        f"{path}:3:15: connections.m.a.host: '${{params.h}}' is not an environment variable "
        "reference"
    ]


ADR_0020 = """
version: 1
connections:
  mysql:
    db_movies:
      default: true
      host: ${MYSQL_HOST:-127.0.0.1}
      port: ${MYSQL_PORT:-3306}
      database: padak
      username: ${MYSQL_USER:-root}
      password: ${MYSQL_PASSWORD}
  supabase:
    main:
      default: true
      url: https://abcdefghijklmnop.supabase.co
      service_role_key: ${SUPABASE_SERVICE_ROLE_KEY}
      anon_key: ${SUPABASE_ANON_KEY:-}
      pg_dsn: ${SUPABASE_PG_DSN}
  duckdb:
    local: {default: true, path: ./data/local.duckdb}
  filesystem:
    local: {default: true, base_dir: ./data}
"""


def test_an_adr_0020_connections_file_resolves_to_canonical_fields(tmp_path):
    conns = load_connections(write(tmp_path / "c.yaml", ADR_0020))
    assert sorted(conns.families) == ["duckdb", "filesystem", "mysql", "supabase"]
    env = {"MYSQL_PASSWORD": "pw", "SUPABASE_SERVICE_ROLE_KEY": "srk", "SUPABASE_PG_DSN": "dsn"}
    entries = {
        ref: {"family": c.family, "alias": c.alias, "fields": c.fields}
        for aliases in conns.families.values()
        for c in aliases.values()
        for ref in [c.ref]
    }
    assert resolve_connection(entries["@mysql.db_movies"], env) == {
        "database": "padak",
        "host": "127.0.0.1",
        "password": "pw",
        "port": "3306",
        "user": "root",
    }
    # upstream's key order: service_role_key, then anon_key, then key
    assert resolve_connection(entries["@supabase.main"], env) == {
        "dsn": "dsn",
        "key": "srk",
        "url": "https://abcdefghijklmnop.supabase.co",
    }
    assert resolve_connection(entries["@duckdb.local"], env) == {"path": "./data/local.duckdb"}


def test_synonyms_given_twice_are_a_problem(tmp_path):
    text = "connections:\n  mysql:\n    a: {host: h, user: u, username: v}\n"
    assert problems(lambda: load_connections(write(tmp_path / "c.yaml", text))) == [
        f"{tmp_path / 'c.yaml'}:3:27: connections.mysql.a.username: 'username' and 'user' are "
        "the same field (hint: keep one of them: user or username)"
    ]
    text = "version: 2\nconnections:\n  mysql:\n    a: {host: h, user: u}\n"
    assert problems(lambda: load_connections(write(tmp_path / "c.yaml", text))) == [
        f"{tmp_path / 'c.yaml'}:1:10: version: unsupported connections file version 2 "
        "(hint: write `version: 1`, or leave it out)"
    ]
