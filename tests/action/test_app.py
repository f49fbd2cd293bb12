"""`osiris.action.main(environ)` driven the way GitHub's runner starts the container action:
INPUT_* variables (defaults from action.yml), GITHUB_WORKSPACE holding a copy of examples/,
real files for GITHUB_OUTPUT and GITHUB_STEP_SUMMARY, real runs of real pipelines."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from osiris.action import main
from osiris.action.outputs import OUTPUTS
from testing.runner_helpers import PROBE_CONNECTIONS, write_pipeline
from tests.action.helpers import (
    ROOT,
    SESSION,
    action_env,
    make_workspace,
    read_outputs,
    read_summary,
    untimed,
)

LOCAL_NOTICE = (
    "::notice title=Osiris::Executor local (auto): E2B_API_KEY is not set; pass it in the "
    "step's env to run in an E2B sandbox"
)
NO_RUNTIME = (
    "ACTIONS_RUNTIME_TOKEN and ACTIONS_RESULTS_URL are not set (GitHub gives them only to "
    "docker and JavaScript action steps, not to `run:` steps or a plain `docker run`)"
)

PASSWORD = "Pw-canary/7e1+Q"
TOKEN = "tok-canary-42af"
DSN = "postgresql://etl:dsn-canary-91@127.0.0.1:5432/app"
SECRETS = {"TESTDB_PASSWORD": PASSWORD, "TESTDB_TOKEN": TOKEN, "TESTDB_DSN": DSN}
PROBE = """
oml_version: "0.1.0"
name: probe
steps:
  - id: probe
    component: testkit.probe
    mode: extract
    config: {connection: "@testdb", token: "${TESTDB_TOKEN}", fail: true}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [probe]
    config: {path: probe.csv}
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_workspace(tmp_path)


def test_a_successful_run(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = action_env(workspace, {"pipeline": "examples/quickstart.yaml"})

    assert main(env) == 0

    out = capsys.readouterr().out.splitlines()
    outputs = read_outputs(env)
    assert list(outputs) == list(OUTPUTS)
    session = outputs["session-id"]
    assert SESSION.fullmatch(session)
    assert out[:2] == [LOCAL_NOTICE, "::group ::osiris run examples/quickstart.yaml"]
    assert out[-2:] == [
        "::endgroup::",
        f"::notice title=Osiris::Artifact upload skipped: {NO_RUNTIME}. Session bundle: "
        f"logs/{session}.zip",
    ]
    assert {k: v for k, v in outputs.items() if k != "summary-json"} == {
        "session-id": session,
        "status": "succeeded",
        "exit-code": "0",
        "bundle-path": f"logs/{session}.zip",
        "artifact-id": "",
        "artifact-url": "",
        "artifact-digest": "",
        "rows-written": "24",
        "pipelines": "",
    }
    with zipfile.ZipFile(workspace / outputs["bundle-path"]) as bundle:
        assert f"{session}/artifacts/outputs/output/revenue.csv" in bundle.namelist()
        assert f"{session}/report.html" in bundle.namelist()
    summary_json = json.loads(outputs["summary-json"])
    assert summary_json["artifact"]["status"] == "skipped"
    [pipeline] = summary_json["pipelines"]
    assert [(s["id"], s["status"], s["rows"]) for s in pipeline["steps"]] == [
        ("orders", "succeeded", 500),
        ("customers", "succeeded", 12),
        ("revenue", "succeeded", 12),
        ("write_csv", "succeeded", 12),
        ("write_parquet", "succeeded", 12),
    ]
    assert untimed(read_summary(env)) == textwrap.dedent(
        f"""\
        ## ✅ succeeded — osiris run

        | Pipeline | Session | Status | Rows read | Rows written | Duration |
        |---|---|---|--:|--:|--:|
        | quickstart-revenue<br>`examples/quickstart.yaml` | `<session>` | ✅ succeeded | 512 | 24 \
| <t> |

        ### ✅ succeeded — quickstart-revenue

        Executor `local`, session `<session>`.

        | Step | Component | Status | Rows | Duration |
        |---|---|---|--:|--:|
        | `orders` | `filesystem.csv_extractor` | ✅ succeeded | 500 | <t> |
        | `customers` | `filesystem.csv_extractor` | ✅ succeeded | 12 | <t> |
        | `revenue` | `duckdb.processor` | ✅ succeeded | 12 | <t> |
        | `write_csv` | `filesystem.csv_writer` | ✅ succeeded | 12 | <t> |
        | `write_parquet` | `filesystem.parquet_writer` | ✅ succeeded | 12 | <t> |

        Bundle: `logs/<session>.zip`

        Report: `<session>/report.html` in the bundle (graph, timeline, events)

        ### Artifact

        Upload skipped: {NO_RUNTIME}. The bundle is in the workspace: `logs/<session>.zip`
        """
    )


def test_validation_problems_become_annotations(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = workspace / "project"
    shutil.move(workspace / "examples", project / "examples")
    steps = "".join(
        f"  - id: s{i}\n    component: filesystem.csv_extractor\n    mode: extract\n"
        f"    config: {{path: a.csv, bogus{i}: 1}}\n"
        for i in range(12)
    )
    (project / "bad.yaml").write_text(f'oml_version: "0.1.0"\nname: bad\nsteps:\n{steps}')
    env = action_env(
        workspace,
        {
            "pipeline": "bad.yaml examples/*.yaml",
            "command": "validate",
            "working-directory": "project",
        },
    )

    assert main(env) == 2

    out = capsys.readouterr().out.splitlines()
    errors = [line for line in out if line.startswith("::error")]
    hint = (
        "allowed keys: block_size_mb, chunk_size, column_types, columns, comment, compression, "
        "connection, "
        "delimiter, dtype, encoding, has_header, header, limit, na_values, null_values, "
        "parse_dates, path, skip_blank_lines, skip_rows"
    )
    # GitHub turns only the first 10 into annotations; all of them are in the log.
    assert errors == [
        f"::error title=Invalid pipeline,file=project/bad.yaml,col=27,line={7 + 4 * i}::"
        f"step 's{i}' → config.bogus{i}: unknown key 'bogus{i}' (hint: {hint})"
        for i in range(12)
    ]
    assert out[0] == "::group ::osiris validate bad.yaml examples/quickstart.yaml"
    outputs = read_outputs(env)
    assert (outputs["status"], outputs["exit-code"], outputs["session-id"]) == ("invalid", "2", "")
    summary = read_summary(env)
    assert summary.startswith(
        "## ❌ invalid — osiris validate\n\n1 of 2 pipelines invalid.\n\n"
        "| Pipeline | Result |\n|---|---|\n"
        "| `project/bad.yaml` | ❌ invalid: 12 problems |\n"
        "| `project/examples/quickstart.yaml` | ✅ valid (5 steps) |\n\n"
        "### `project/bad.yaml`\n\n| Location | Problem |\n|---|---|\n"
        "| `project/bad.yaml:7:27` | step 's0' → config.bogus0: unknown key 'bogus0' (hint: "
    )


@pytest.mark.parametrize("command", ["validate", "compile", "run"])
def test_every_pipeline_is_compiled_once(
    command: str,
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import osiris.pipeline

    shutil.copy(workspace / "examples/quickstart.yaml", workspace / "examples/second.yaml")
    compiled: list[str] = []
    real = osiris.pipeline.compile_pipeline

    def counting(path: Path, **kwargs: object) -> object:
        compiled.append(Path(path).name)
        return real(path, **kwargs)

    monkeypatch.setattr(osiris.pipeline, "compile_pipeline", counting)
    env = action_env(workspace, {"pipeline": "examples/*.yaml", "command": command})

    assert main(env) == 0

    assert sorted(compiled) == ["quickstart.yaml", "second.yaml"]
    out = capsys.readouterr()
    if command == "validate":
        assert "examples/second.yaml: ok (5 steps, " in out.out
    if command == "compile":
        assert out.out.count('"name":"quickstart-revenue"') == 2


def test_an_invalid_pipeline_is_not_run(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "bad.yaml").write_text('oml_version: "0.1.0"\nname: bad\nsteps: []\n')
    env = action_env(workspace, {"pipeline": "bad.yaml"})

    assert main(env) == 2

    out = capsys.readouterr().out.splitlines()
    assert out[0] == LOCAL_NOTICE
    assert [line.split("::")[1] for line in out[1:]] == [
        "error title=Invalid pipeline,file=bad.yaml,col=8,line=3"
    ]
    assert not (workspace / "logs").exists()
    outputs = read_outputs(env)
    assert (outputs["status"], outputs["exit-code"], outputs["bundle-path"]) == ("invalid", "2", "")


def probe_workspace(workspace: Path) -> None:
    write_pipeline(workspace, PROBE_CONNECTIONS, name="osiris_connections.yaml")
    write_pipeline(workspace, PROBE, name="probe.yaml")


def test_fail_on_error_false_reports_the_failure_but_succeeds(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    probe_workspace(workspace)
    env = action_env(workspace, {"pipeline": "probe.yaml", "fail-on-error": "false"}, **SECRETS)

    assert main(env) == 0

    out = capsys.readouterr().out.splitlines()
    outputs = read_outputs(env)
    assert (outputs["status"], outputs["exit-code"]) == ("failed", "1")
    assert (
        "::error title=Pipeline probe failed,file=probe.yaml::step 'probe' failed: "
        "[auth.failed] login refused for password ***"
    ) in out
    assert out[-1] == (
        "::warning title=Osiris::osiris run finished with exit code 1 (failed); "
        "fail-on-error is false, so this step succeeds"
    )
    summary = read_summary(env)
    assert "| `write` | `filesystem.csv_writer` | ⏭️ skipped |  |  |" in summary
    assert "**Error:** step 'probe' failed: [auth.failed] login refused for password ***" in summary
    assert (workspace / outputs["bundle-path"]).is_file()

    env["INPUT_FAIL-ON-ERROR"] = "true"
    assert main(env) == 1


def test_secrets_are_masked_before_anything_else(workspace: Path) -> None:
    """The real entry point in a child process, stdout and stderr as the runner reads them."""
    probe_workspace(workspace)
    env = action_env(workspace, {"pipeline": "probe.yaml"}, E2B_API_KEY="e2b-key-canary", **SECRETS)
    env["INPUT_EXECUTOR"] = "local"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "entrypoint.py")],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )

    assert proc.returncode == 1, proc.stdout
    lines = proc.stdout.splitlines()
    assert lines[:4] == [
        "::add-mask::e2b-key-canary",
        f"::add-mask::{PASSWORD}",
        f"::add-mask::{DSN}",
        f"::add-mask::{TOKEN}",
    ]
    assert lines[4] == "::notice title=Osiris::Executor local: set by the executor input"
    secrets = [PASSWORD, TOKEN, DSN, "dsn-canary-91", "e2b-key-canary"]
    assert [line for line in lines[4:] if any(s in line for s in secrets)] == []
    written = read_summary(env) + Path(env["GITHUB_OUTPUT"]).read_text()
    with zipfile.ZipFile(workspace / read_outputs(env)["bundle-path"]) as bundle:
        written += "".join(bundle.read(n).decode("utf-8", "replace") for n in bundle.namelist())
    assert [s for s in secrets if s in written] == []
    # the probe really printed them: masking, not silence, kept them out
    assert "with password ***" in written


def test_auto_picks_e2b_when_its_key_is_set(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env = action_env(
        workspace,
        {"pipeline": "examples/quickstart.yaml", "command": "compile"},
        E2B_API_KEY="e2b-test-key",
    )

    assert main(env) == 0

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[:3] == [
        "::add-mask::e2b-test-key",
        "::notice title=Osiris::Executor e2b (auto): E2B_API_KEY is set",
        "::group ::osiris compile examples/quickstart.yaml",
    ]
    manifest = json.loads(out[out.index("{") : out.index("::endgroup::")])
    assert manifest["pipeline"]["name"] == "quickstart-revenue"
    outputs = read_outputs(env)
    assert (outputs["status"], outputs["exit-code"]) == ("compiled", "0")
    assert json.loads(outputs["summary-json"])["executor"] == "e2b"
    assert f"Manifest fingerprint `{manifest['fingerprint']}`." in read_summary(env)


def test_several_pipelines(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(workspace / "examples/quickstart.yaml", workspace / "examples/second.yaml")
    env = action_env(
        workspace,
        {"pipeline": "examples/*.yaml", "upload-artifact": "false", "params": "min_revenue=1e9"},
        ACTIONS_RUNTIME_TOKEN="not-used",
        ACTIONS_RESULTS_URL="http://127.0.0.1:9/",
    )

    assert main(env) == 0

    outputs = read_outputs(env)
    first, second = outputs["session-id"].split("\n")
    assert outputs["bundle-path"] == f"logs/{first}.zip\nlogs/{second}.zip"
    assert outputs["rows-written"] == "0"  # no customer has a billion in revenue
    out = capsys.readouterr().out
    assert out.count("::group ::") == 2
    assert out.splitlines()[-1] == (
        "::notice title=Osiris::Artifact upload skipped: the upload-artifact input is false. "
        f"Session bundle: logs/{first}.zip, logs/{second}.zip"
    )


def test_several_pipelines_side_by_side(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nap = (
        'oml_version: "0.1.0"\nname: nap-{i}\nsteps:\n  - id: nap\n    component: '
        "testkit.sleeper\n    mode: extract\n    config: {{seconds: 1, heartbeat: 0.2}}\n"
    )
    for i in range(3):
        (workspace / "examples" / f"nap-{i}.yaml").write_text(nap.format(i=i))
    env = action_env(
        workspace, {"pipeline": "examples/nap-*.yaml", "upload-artifact": "false", "parallel": "3"}
    )

    assert main(env) == 0

    outputs = read_outputs(env)
    ids = outputs["session-id"].split("\n")
    assert len(ids) == 3
    summary = json.loads(outputs["summary-json"])
    assert [p["status"] for p in summary["pipelines"]] == ["succeeded"] * 3
    spans = []
    for sid in ids:
        info = json.loads((workspace / "logs" / sid / "session.json").read_text("utf-8"))
        spans.append((info["started_at"], info["ended_at"]))
    assert max(a for a, _ in spans) < min(b for _, b in spans)  # all three ran at once
    out = capsys.readouterr().out
    assert "::group ::osiris run: 3 pipelines, up to 3 at a time" in out
    for i in range(3):
        assert f"examples/nap-{i}.yaml: succeeded (exit 0), session run_" in out
    assert out.count("::group ::") == 1
    written = read_summary(env)
    assert "| nap-0<br>`examples/nap-0.yaml` |" in written
    assert "| **Total: 3 pipelines** | | 3 succeeded | 3 | 0 | |" in written, written


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"pipeline": ""}, "input 'pipeline' is empty%0A  hint: name one or more pipeline"),
        ({"pipeline": "nope/*.yaml"}, "pipeline 'nope/*.yaml' matches no file in "),
        ({"pipeline": "x.yaml", "working-directory": "missing"}, "working-directory 'missing' "),
    ],
)
def test_usage_errors(
    workspace: Path, capsys: pytest.CaptureFixture[str], inputs: dict[str, str], message: str
) -> None:
    env = action_env(workspace, inputs)
    assert main(env) == 2
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"::error title=osiris run::{message}")
    outputs = read_outputs(env)
    assert (outputs["status"], outputs["exit-code"]) == ("error", "2")
    assert read_summary(env).startswith("## ❌ error — osiris run\n\n**Error:** ")


def test_e2b_without_its_key(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    env = action_env(workspace, {"pipeline": "examples/quickstart.yaml", "executor": "e2b"})

    assert main(env) == 2

    out = capsys.readouterr().out.splitlines()
    assert out[0] == "::notice title=Osiris::Executor e2b: set by the executor input"
    assert (
        "::error title=Pipeline quickstart-revenue failed,file=examples/quickstart.yaml::"
        "[config.invalid] E2B_API_KEY is not set (hint: export it, or pass --executor local)"
    ) in out
    outputs = read_outputs(env)
    assert (outputs["status"], outputs["exit-code"]) == ("failed", "2")
    assert (workspace / outputs["bundle-path"]).is_file()


def test_exports_and_a_light_import() -> None:
    import importlib

    import osiris.action

    assert osiris.action.__all__ == ["main"]
    for name in (
        "app",
        "commands",
        "inputs",
        "outputs",
        "plan",
        "plandiff",
        "report",
        "summary",
        "upload",
        "workflow",
    ):
        module = importlib.import_module(f"osiris.action.{name}")
        assert sorted(module.__all__) == module.__all__, name
        assert all(hasattr(module, item) for item in module.__all__), name
    code = (
        "import sys, osiris.action; "
        "print(sorted(m for m in ('github_action_utils', 'pyarrow', 'duckdb', 'httpx') "
        "if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout == "[]\n"
