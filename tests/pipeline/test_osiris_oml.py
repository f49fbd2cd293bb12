"""OML 0.1.0 as upstream Osiris writes it: kebab-case ids, `mode: read`, `metadata`, `inputs`,
steps without `connection`, warnings for what is kept but not acted on."""

from __future__ import annotations

from pathlib import Path

import pytest

from testing.pipelines import compile_file, problems, write

P = Path("p.yaml")
CONNS = """
connections:
  mysql:
    db_movies:
      default: true
      host: 127.0.0.1
      user: root
      password: ${MYSQL_PASSWORD:-}
    other: {host: 127.0.0.2, user: root}
"""
PIPELINE = """
oml_version: "0.1.0"
name: mysql-to-stats
metadata:
  intent: "Move data from MySQL - just a tasting pipeline."
  owner: {team: data}
steps:
  - id: extract-movies
    component: fixture.mysql_extractor
    mode: read
    config:
      query: "SELECT * FROM movies"
  - id: compute.stats
    component: fixture.sql_transform
    mode: transform
    inputs:
      df: "${extract-movies.df}"
    config: {query: "select * from input_df"}
  - id: write_stats
    component: fixture.csv_writer
    mode: write
    needs: ["compute.stats"]
    config: {path: out/stats.csv}
"""


def test_an_upstream_shaped_pipeline_compiles(here):
    write(Path("osiris_connections.yaml"), CONNS)
    manifest = compile_file(write(P, PIPELINE))
    steps = {s["id"]: s for s in manifest.data["steps"]}
    assert list(steps) == ["extract-movies", "compute.stats", "write_stats"]
    # `read` is extract; the default connection is filled in; `inputs` is a need
    assert steps["extract-movies"]["mode"] == "extract"
    assert steps["extract-movies"]["connection"] == "@mysql.db_movies"
    assert steps["compute.stats"]["needs"] == ["extract-movies"]
    assert steps["write_stats"]["needs"] == ["compute.stats"]
    assert manifest.data["pipeline"]["metadata"] == {
        "intent": "Move data from MySQL - just a tasting pipeline.",
        "owner": {"team": "data"},
    }
    assert list(manifest.data["connections"]) == ["@mysql.db_movies"]
    assert manifest.warnings == []


@pytest.mark.parametrize(
    ("aliases", "message", "hint"),
    [
        (
            "    a: {host: h, user: u}\n    b: {host: h, user: u}\n",
            "the step names no connection, so it needs a default mysql connection: '@mysql' "
            "needs a default connection, but family 'mysql' has several aliases, none marked "
            "`default: true` and none named `default`",
            'add `connection: "@mysql.<alias>"` to the step, or mark one with `default: true` '
            "or write @mysql.<alias> (aliases: a, b)",
        ),
        (
            "",
            "the step names no connection, so it needs a default mysql connection: connection "
            "family 'mysql' is not defined in osiris_connections.yaml",
            'add `connection: "@mysql.<alias>"` to the step, or add `mysql:` under '
            "`connections:` (defined families: postgres)",
        ),
    ],
)
def test_a_step_without_connection_needs_a_family_default(here, aliases, message, hint):
    families = f"  mysql:\n{aliases}" if aliases else ""
    write(
        Path("osiris_connections.yaml"),
        f"connections:\n{families}  postgres:\n    x: {{host: h, user: u}}\n",
    )
    assert problems(lambda: compile_file(write(P, PIPELINE))) == [
        f"p.yaml:8:16: step 'extract-movies' → component: {message} (hint: {hint})"
    ]


def test_no_connections_file_for_a_step_without_connection(here):
    found = problems(lambda: compile_file(write(P, PIPELINE)))
    assert found == [
        "p.yaml:8:16: step 'extract-movies' → component: the step names no connection, so it "
        "needs a default mysql connection: no osiris_connections.yaml found (looked for "
        f"osiris_connections.yaml and {here}/osiris_connections.yaml) (hint: create "
        "osiris_connections.yaml next to the pipeline; see docs/pipelines.md)"
    ]


def test_inputs_problems_are_located(here):
    write(Path("osiris_connections.yaml"), CONNS)
    text = PIPELINE.replace('df: "${extract-movies.df}"', 'df: "${extract-moves.df}"\n      x: 5')
    assert (
        problems(lambda: compile_file(write(P, text)))
        == [
            "p.yaml:17:10: step 'compute.stats' → inputs.x: an input must name a step's output, "
            'got integer 5 (hint: write `x: "${<step id>.df}"`)',
            "p.yaml:16:11: step 'compute.stats' → inputs.df: needs unknown step 'extract-moves' "
            "(hint: did you mean 'extract-movies'?)",
        ][::-1]
    )


def test_a_step_output_in_config_says_where_it_belongs(here):
    write(Path("osiris_connections.yaml"), CONNS)
    text = PIPELINE.replace('query: "select * from input_df"', 'query: "${extract-movies.df}"')
    assert problems(lambda: compile_file(write(P, text))) == [
        "p.yaml:17:21: step 'compute.stats' → config.query: '${extract-movies.df}' is a step's "
        'output, which only `inputs:` can take (hint: write `inputs: {df: "${extract-movies.df}"}` '
        "on the step (or `needs: [extract-movies]`))"
    ]


def test_former_top_level_keys_say_what_replaced_them(here):
    text = 'oml_version: "0.1.0"\nname: p\nversion: 1\ntasks: []\nsteps: []\n'
    found = problems(lambda: compile_file(write(P, text)))
    assert found[:2] == [
        "p.yaml:3:1: version: unknown key 'version' (hint: OML says `oml_version: \"0.1.0\"`)",
        "p.yaml:4:1: tasks: unknown key 'tasks' (hint: OML calls them `steps`)",
    ]


def test_schedule_is_kept_with_a_warning(here):
    write(Path("osiris_connections.yaml"), CONNS)
    manifest = compile_file(write(P, PIPELINE + 'schedule: "0 2 * * *"\n'))
    assert [w.format() for w in manifest.warnings] == [
        "p.yaml:23:1: warning: schedule: `schedule` is kept with the pipeline, but osiris run "
        "does not schedule runs (hint: schedule runs with cron or a GitHub workflow's "
        "`on: schedule`)"
    ]


CHAIN = """
oml_version: "0.1.0"
name: chain
steps:
  - id: extract
    component: fixture.csv_extractor
    mode: read
    config: {path: in.csv}
  - id: write
    component: fixture.csv_writer
    mode: write
    config: {path: out.csv}
  - id: again
    component: fixture.csv_writer
    mode: write
    needs: [write]
    config: {path: again.csv}
"""


def test_a_step_naming_no_input_reads_the_one_before_it_with_a_warning(here):
    text = CHAIN.split("  - id: again", maxsplit=1)[0]
    manifest = compile_file(write(P, text))
    assert [s["needs"] for s in manifest.data["steps"]] == [[], ["extract"]]
    assert [w.format() for w in manifest.warnings] == [
        "p.yaml:8:5: warning: step 'write': the step names no input; as in upstream Osiris it "
        "reads the step before it, 'extract' (hint: write `needs: [extract]` to say so)"
    ]


def test_a_write_step_has_no_output_to_need(here):
    found = problems(lambda: compile_file(write(P, CHAIN)))
    assert (
        "p.yaml:15:13: step 'again' → needs[0]: 'write' is a write step; it has no output to "
        "read (hint: name the step that 'write' reads instead)" in found
    )


def test_a_csv_extractor_may_name_a_filesystem_connection_with_a_warning(here):
    from osiris.pipeline import compile_pipeline

    write(
        Path("osiris_connections.yaml"),
        "version: 1\nconnections:\n  filesystem:\n    local: {default: true, base_dir: ./data}\n",
    )
    text = """
        oml_version: "0.1.0"
        name: csv
        steps:
          - id: read
            component: filesystem.csv_extractor
            mode: read
            config: {connection: "@filesystem.local", path: in.csv}
          - id: plain
            component: filesystem.csv_extractor
            mode: read
            config: {path: in.csv}
    """
    manifest = compile_pipeline(write(P, text), environ={})
    assert [s["connection"] for s in manifest.data["steps"]] == ["@filesystem.local", None]
    assert [w.message for w in manifest.warnings] == [
        "'connection' changes nothing here: paths are relative to the pipeline's directory; the "
        "connection's base_dir is not applied (upstream Osiris's runner does not apply it either)"
    ]
    wrong = text.replace("@filesystem.local", "@mysql.x")
    found = problems(lambda: compile_pipeline(write(P, wrong)))
    assert any("needs a filesystem connection, got '@mysql.x'" in p for p in found)
