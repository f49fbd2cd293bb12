"""Plan diffs between two compiled versions of a pipeline (real compiles, no hand-made manifests
except for the edge cases)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from osiris.action.plan import secret_fields
from osiris.action.plandiff import Change, PlanDiff, StepDiff, Target, TargetChange, diff_plans
from osiris.action.summary import render_plan
from osiris.pipeline import compile_pipeline
from testing.runner_helpers import write_pipeline

CONNECTIONS = """
connections:
  mysql:
    main:
      default: true
      host: ${MYSQL_HOST:-127.0.0.1}
      user: etl
      password: ${MYSQL_PASSWORD}
  testdb:
    main:
      default: true
      host: 127.0.0.1
      password: ${TESTDB_PASSWORD}
"""

BASE = """
oml_version: "0.1.0"
name: orders
params:
  min_total: {type: number, default: 0}
steps:
  - id: extract
    component: mysql.extractor
    mode: extract
    config:
      connection: "@mysql"
      query: |
        select *
        from orders
        where total >= ${params.min_total}
  - id: probe
    component: testkit.probe
    mode: extract
    config: {connection: "@testdb", token: "${OLD_TOKEN}"}
  - id: load
    component: mysql.writer
    mode: write
    needs: [extract]
    config: {connection: "@mysql", table: orders, write_mode: append}
  - id: audit
    component: filesystem.csv_writer
    mode: write
    needs: [extract]
    config: {path: audit.csv}
"""

HEAD = """
oml_version: "0.1.0"
name: orders
params:
  min_total: {type: number, default: 10}
steps:
  - id: extract
    component: mysql.extractor
    mode: extract
    config:
      connection: "@mysql"
      query: |
        select *
        from orders
        where total >= ${params.min_total}
          and status = 'paid'
  - id: probe
    component: testkit.probe
    mode: extract
    config: {connection: "@testdb", token: "${NEW_TOKEN}"}
  - id: load
    component: mysql.writer
    mode: write
    needs: [extract]
    config: {connection: "@mysql", table: orders_v2, write_mode: replace}
  - id: archive
    component: filesystem.parquet_writer
    mode: write
    needs: [extract]
    config: {path: archive.parquet}
"""


def manifest(
    tmp_path: Path, name: str, text: str, connections: str = CONNECTIONS
) -> dict[str, Any]:
    folder = tmp_path / name
    folder.mkdir()
    write_pipeline(folder, connections, name="osiris_connections.yaml")
    return compile_pipeline(write_pipeline(folder, text), environ={}).data


def diff(base: dict[str, Any] | None, head: dict[str, Any] | None) -> PlanDiff:
    components = {s["component"] for m in (base, head) if m for s in m["steps"]}
    return diff_plans(base, head, secret_fields=secret_fields(components))


def test_a_real_change(tmp_path: Path) -> None:
    changed = CONNECTIONS.replace("${MYSQL_HOST:-127.0.0.1}", "db.internal").replace(
        "${MYSQL_PASSWORD}", "${MYSQL_PW:-Lit3ral-Default-Pw}"
    )
    result = diff(manifest(tmp_path, "base", BASE), manifest(tmp_path, "head", HEAD, changed))

    assert result.changed
    assert result.counts() == {"added": 1, "removed": 1, "changed": 3}
    assert result.steps == (
        StepDiff(
            "extract",
            "changed",
            "mysql.extractor",
            "extract",
            (
                Change(
                    "config.query",
                    None,
                    None,
                    diff=(
                        "@@ -1,3 +1,4 @@",
                        " select *",
                        " from orders",
                        "-where total >= 0",
                        "+where total >= 10",
                        "+  and status = 'paid'",
                    ),
                ),
            ),
        ),
        StepDiff(
            "probe",
            "changed",
            "testkit.probe",
            "extract",
            (Change("config.token", None, None, secret=True),),
        ),
        StepDiff(
            "load",
            "changed",
            "mysql.writer",
            "write",
            (
                Change("config.table", "orders", "orders_v2"),
                Change("config.write_mode", "append", "replace"),
            ),
        ),
        StepDiff("archive", "added", "filesystem.parquet_writer", "write"),
        StepDiff("audit", "removed", "filesystem.csv_writer", "write"),
    )
    assert result.targets == (
        TargetChange(
            "load",
            Target("@mysql.main", "orders", "append"),
            Target("@mysql.main", "orders_v2", "replace"),
        ),
        TargetChange("archive", None, Target("files", "archive.parquet", "")),
        TargetChange("audit", Target("files", "audit.csv", ""), None),
    )
    assert result.params == (Change("min_total", "0", "10"),)
    assert result.connections == (
        Change("@mysql.main.host", "${MYSQL_HOST:-127.0.0.1}", "db.internal"),
        Change("@mysql.main.password", None, None, secret=True),
    )
    assert result.run == ()
    assert result.order is None


def test_the_rendered_diff_never_shows_secret_values(tmp_path: Path) -> None:
    changed = CONNECTIONS.replace("${MYSQL_PASSWORD}", "${MYSQL_PW:-Lit3ral-Default-Pw}")
    result = diff(manifest(tmp_path, "base", BASE), manifest(tmp_path, "head", HEAD, changed))
    text = "\n".join(render_plan(result, base_label="origin/main"))

    assert "Lit3ral-Default-Pw" not in text
    assert "NEW_TOKEN" not in text and "OLD_TOKEN" not in text
    assert text.startswith(
        "Compared with `origin/main`: 1 step added, 1 step removed, 3 steps changed, "
        "3 write targets changed.\n"
    )
    assert "| `load` | @mysql.main → orders (append) | @mysql.main → orders_v2 (replace) |" in text
    assert "| `archive` | — | files → archive.parquet (default mode) |" in text
    assert "- ✏️ `probe` (`testkit.probe`, extract) changed\n" in text
    assert "  - `config.token`: changed (secret, value hidden)" in text
    assert "  - `config.write_mode`: `append` → `replace`" in text
    assert "  - `config.query`:\n\n    ```diff\n    @@ -1,3 +1,4 @@\n     select *\n" in text
    assert "- 🆕 `archive` (`filesystem.parquet_writer`, write) added" in text
    assert "- 🗑️ `audit` (`filesystem.csv_writer`, write) removed" in text
    assert "**Connections**\n\n- `@mysql.main.password`: changed (secret, value hidden)" in text
    assert "**Parameters**\n\n- `min_total`: `0` → `10`" in text


def test_a_comment_only_change_changes_no_plan(tmp_path: Path) -> None:
    base = manifest(tmp_path, "base", BASE)
    head = manifest(tmp_path, "head", "# just a comment\n" + BASE)
    assert base["fingerprint"] != head["fingerprint"]  # the file did change
    result = diff(base, head)
    assert not result.changed
    assert render_plan(result, base_label="main") == [
        "No change to the compiled plan compared with `main`.",
        "",
    ]


def test_a_new_pipeline(tmp_path: Path) -> None:
    result = diff(None, manifest(tmp_path, "head", HEAD))
    assert result.changed
    assert [(s.id, s.kind) for s in result.steps] == [
        ("extract", "added"),
        ("probe", "added"),
        ("load", "added"),
        ("archive", "added"),
    ]
    assert [t.step for t in result.targets] == ["load", "archive"]
    assert render_plan(result, base_label="origin/main")[0] == (
        "No plan at `origin/main` to compare with: all 4 steps are new."
    )


def test_a_removed_pipeline(tmp_path: Path) -> None:
    result = diff(manifest(tmp_path, "base", BASE), None)
    assert {s.kind for s in result.steps} == {"removed"}
    assert render_plan(result, base_label="main")[0] == (
        "The pipeline is gone: all 4 steps at `main` are removed."
    )


def _manifest(*steps: dict[str, Any], **extra: Any) -> dict[str, Any]:
    full = [
        {
            "component": "x.writer",
            "component_version": "0.1.0",
            "mode": "write",
            "connection": None,
            "needs": [],
            "inputs": [],
            "outputs": [],
            "config": {},
            **s,
        }
        for s in steps
    ]
    return {"steps": full, "params": {}, "connections": {}, "run": {}, **extra}


def test_order_needs_versions_and_nested_config() -> None:
    base = _manifest(
        {"id": "a", "config": {"opts": {"sep": ",", "api_key": "${K1}"}}},
        {"id": "b", "component_version": "0.1.0"},
    )
    head = _manifest(
        {"id": "b", "component_version": "0.2.0"},
        {"id": "a", "needs": ["b"], "config": {"opts": {"sep": ";", "api_key": "${K2}"}}},
    )
    result = diff_plans(base, head)
    assert result.order == (("a", "b"), ("b", "a"))
    assert result.steps == (
        StepDiff(
            "b", "changed", "x.writer", "write", (Change("component_version", "0.1.0", "0.2.0"),)
        ),
        StepDiff(
            "a",
            "changed",
            "x.writer",
            "write",
            (
                Change("needs", "[]", '["b"]'),
                Change("config.opts.api_key", None, None, secret=True),
                Change("config.opts.sep", ",", ";"),
            ),
        ),
    )


@pytest.mark.parametrize(
    ("config", "outputs", "target"),
    [
        (
            {"table": "t", "schema": "s", "write_mode": "upsert"},
            [],
            Target("@pg.w", "s.t", "upsert"),
        ),
        ({"table": "t", "if_exists": "replace"}, [], Target("@pg.w", "t", "replace")),
        ({"path": "a.csv"}, ["a.csv"], Target("@pg.w", "a.csv", "")),
    ],
)
def test_targets(config: dict[str, Any], outputs: list[str], target: Target) -> None:
    base = _manifest({"id": "w", "mode": "extract", "connection": "@pg.w"})
    head = _manifest({"id": "w", "connection": "@pg.w", "config": config, "outputs": outputs})
    assert diff_plans(base, head).targets == (TargetChange("w", None, target),)


def test_run_limits_and_connection_use() -> None:
    base = _manifest(
        run={"limits": {"timeout_seconds": 3600}, "network": {"allow": ["*"]}},
        connections={
            "@pg.w": {
                "family": "pg",
                "fields": {"host": "h", "password": "${P}"},
                "secret_fields": ["password"],
            }
        },
    )
    head = _manifest(run={"limits": {"timeout_seconds": 60}, "network": {"allow": ["db:5432"]}})
    result = diff_plans(base, head)
    assert result.run == (
        Change("limits.timeout_seconds", "3600", "60"),
        Change("network.allow", '["*"]', '["db:5432"]'),
    )
    assert result.connections == (Change("@pg.w", "pg connection (host, password)", None),)
    lines = render_plan(result, base_label="main")
    assert "- `@pg.w`: removed (was `pg connection (host, password)`)" in lines
    assert "- `limits.timeout_seconds`: `3600` → `60`" in lines
