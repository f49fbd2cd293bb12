"""The CLI as users meet it: help, version, exit codes, the quickstart."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from osiris import __version__
from osiris.cli import main
from testing.runner_helpers import osiris_cli

ROOT = Path(__file__).resolve().parents[1]


def test_help_imports_no_heavy_modules():
    code = (
        "import sys, contextlib, io\n"
        "from osiris.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    rc = main(['--help'])\n"
        "print(rc, sorted(m for m in ('duckdb', 'pyarrow', 'e2b', 'pydantic_settings')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0 []"


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "osiris run (<pipeline>... | --last-compile)" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"osiris {__version__}"


def test_bad_usage_is_exit_2_with_the_usage_that_applies(capsys):
    assert main(["frobnicate"]) == 2
    assert capsys.readouterr().err == (
        "error: unknown command 'frobnicate'\n  hint: run `osiris --help` to see the commands\n"
    )
    assert main([]) == 2
    assert capsys.readouterr().err.startswith("error: no command given\n")
    assert main(["run", "p.yaml", "--bogus"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[:3] == ["error: unknown option --bogus", "  hint: usage:", err[2]]
    assert err[2].startswith("  osiris run (<pipeline>... | --last-compile) [--parallel=<n>]")
    assert len(err) == 5  # the run usage (three lines), nothing about other commands
    assert main(["compile", "p.yaml", "--out"]) == 2
    assert capsys.readouterr().err.startswith("error: --out requires argument\n")


def test_bad_param_syntax_is_exit_2(tmp_path, capsys):
    assert main(["validate", str(ROOT / "examples/quickstart.yaml"), "--param", "nokey"]) == 2
    assert "error: --param expects key=value, got 'nokey'" in capsys.readouterr().err


def test_unknown_executor_lists_valid_ones(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = main(["run", str(ROOT / "examples/quickstart.yaml"), "--executor", "k8s"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: cli --executor: runner.executor: expected one of local, e2b, got 'k8s'"
    )


@pytest.fixture
def quickstart(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    return tmp_path


def test_quickstart_runs_end_to_end(quickstart):
    proc = osiris_cli("run", "examples/quickstart.yaml", cwd=quickstart)

    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Running quickstart-revenue (5 steps) with the local executor")
    assert any(line.startswith("  done   revenue: ") for line in lines)
    assert any(line.startswith("Succeeded in ") for line in lines)
    session = next(quickstart.joinpath("logs").iterdir())
    outputs = session / "artifacts" / "outputs"
    csv_rows = (outputs / "output" / "revenue.csv").read_text().splitlines()
    assert csv_rows[0] == '"customer_id","name","country","paid_orders","revenue","last_order"'
    assert len(csv_rows) == 13  # header + the 12 customers, all of whom have paid orders
    # where the pipeline says, relative to the working directory (as upstream Osiris writes
    # them), and the same file the session keeps
    placed = quickstart / "output" / "revenue.csv"
    assert placed.read_text().splitlines() == csv_rows
    assert placed.stat().st_ino == (outputs / "output" / "revenue.csv").stat().st_ino
    assert "  output:  output/revenue.csv" in lines
    info = json.loads((session / "session.json").read_text())
    assert info["status"] == "succeeded" and info["exit_code"] == 0
    assert (session / "artifacts" / "manifest.json").is_file()
    assert (session / "artifacts" / "pipeline.yaml").read_text() == (
        quickstart / "examples" / "quickstart.yaml"
    ).read_text()


def test_quickstart_param_changes_result(quickstart):
    proc = osiris_cli(
        "run", "examples/quickstart.yaml", "--param", "min_revenue=100000", "--json", cwd=quickstart
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "succeeded"
    assert summary["steps"]["write_csv"]["rows_written"] == 0


def test_dry_run(quickstart):
    proc = osiris_cli("run", "examples/quickstart.yaml", "--dry-run", cwd=quickstart)
    assert proc.returncode == 0, proc.stderr
    assert "Dry run OK" in proc.stdout
    session = next(quickstart.joinpath("logs").iterdir())
    assert json.loads((session / "session.json").read_text())["status"] == "dry_run"
    assert not (session / "artifacts" / "outputs" / "output" / "revenue.csv").exists()
    assert not (quickstart / "output").exists()


def test_failed_run_exit_1_and_bundle(quickstart):
    (quickstart / "examples" / "data" / "orders.csv").unlink()
    proc = osiris_cli("run", "examples/quickstart.yaml", cwd=quickstart)
    assert proc.returncode == 1
    assert "Failed in step 'orders' (exit 1): [file.not_found]" in proc.stderr
    bundle_line = next(line for line in proc.stderr.splitlines() if "bundle:" in line)
    assert Path(quickstart, bundle_line.split("bundle:")[1].strip()).is_file()


def test_validate_reports_positions_and_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        'oml_version: "0.1.0"\nname: bad\nsteps:\n  - id: a\n    component: nope.nothing\n'
        "    mode: extract\n    config: {}\n"
    )
    proc = osiris_cli("validate", "bad.yaml", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 2
    report = json.loads(proc.stdout)
    problem = report["pipelines"][0]["problems"][0]
    assert (problem["file"], problem["line"], problem["col"]) == ("bad.yaml", 5, 16)
    assert "Traceback" not in proc.stderr


def test_compile_is_deterministic_across_processes(tmp_path):
    example = ROOT / "examples" / "quickstart.yaml"
    first = osiris_cli("compile", str(example), cwd=tmp_path)
    second = osiris_cli("compile", str(example), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    manifest = json.loads(first.stdout)
    assert [s["id"] for s in manifest["steps"]] == [
        "orders",
        "customers",
        "revenue",
        "write_csv",
        "write_parquet",
    ]


SLOW_STEPS = """
oml_version: "0.1.0"
name: slow
steps:
  - id: gen
    component: testkit.generator
    mode: extract
    config: {rows: 6000, batch_size: 1000, sleep_per_batch: 0.5}
  - id: write
    component: filesystem.csv_writer
    mode: write
    needs: [gen]
    config: {path: rows.csv}
"""


def test_long_steps_report_progress_and_a_live_counter_on_a_tty(tmp_path):
    import os
    import pty

    (tmp_path / "p.yaml").write_text(SLOW_STEPS)
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "osiris", "run", "p.yaml"],
        cwd=tmp_path,
        stdout=follower,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(follower)
    screen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        screen += chunk
    proc.wait(timeout=60)
    proc.stderr.close()
    os.close(leader)
    assert proc.returncode == 0
    text = screen.decode()
    assert "\r\x1b[K  ...    gen: " in text  # the counter, redrawn in place
    assert "done   gen: 6,000 rows" in text
    session = next(p for p in (tmp_path / "logs").iterdir() if p.is_dir())
    events = [json.loads(x) for x in (session / "events.jsonl").read_text().splitlines()]
    progress = [e["rows"] for e in events if e["event"] == "step_progress"]
    assert progress and all(0 < rows <= 6000 for rows in progress)
    assert progress == sorted(progress)


def test_quiet_prints_only_the_summary(quickstart):
    proc = osiris_cli("run", "examples/quickstart.yaml", "--quiet", cwd=quickstart)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("Succeeded in ")
    assert not any("start " in line for line in lines)


def test_an_explicit_connections_file_must_exist(quickstart, capsys, monkeypatch):
    monkeypatch.chdir(quickstart)
    assert main(["run", "examples/quickstart.yaml", "--connections", "nope.yaml"]) == 2
    assert capsys.readouterr().err == (
        "error: connections file nope.yaml (cli --connections) does not exist\n"
        "  hint: fix the path, or leave it unset to use osiris_connections.yaml next to the "
        "pipeline\n"
    )


def test_an_unusable_logs_dir_is_a_usage_error(quickstart, capsys, monkeypatch):
    monkeypatch.chdir(quickstart)
    (quickstart / "taken").write_text("a file, not a directory")
    assert main(["run", "examples/quickstart.yaml", "--logs-dir", "taken/logs"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot create a session directory in taken/logs: ")
    assert "hint: pass --logs-dir DIR or set logging.logs_dir to a writable directory" in err


TWO_FAILURES = """
oml_version: "0.1.0"
name: two-failures
steps:
  - id: first
    component: testkit.generator
    mode: extract
    config: {rows: 100, batch_size: 10, fail_after: 10}
  - id: second
    component: testkit.generator
    mode: extract
    config: {rows: 100, batch_size: 10, fail_after: 20}
  - id: fine
    component: testkit.generator
    mode: extract
    config: {rows: 100}
"""


def test_on_failure_continue_lists_every_failed_step(tmp_path):
    (tmp_path / "p.yaml").write_text(TWO_FAILURES)
    proc = osiris_cli("run", "p.yaml", cwd=tmp_path, env={"OSIRIS_RUNNER__ON_FAILURE": "continue"})
    assert proc.returncode == 1
    failed = [line for line in proc.stderr.splitlines() if line.startswith("  failed:  ")]
    assert failed == [
        "  failed:  first: [test.failure] generator failed after 10 rows as configured",
        "  failed:  second: [test.failure] generator failed after 20 rows as configured",
    ]
    (info,) = tmp_path.joinpath("logs").glob("run_*/session.json")
    steps = json.loads(info.read_text())["steps"]
    assert {k: v["status"] for k, v in steps.items()} == {
        "first": "failed",
        "second": "failed",
        "fine": "succeeded",
    }
