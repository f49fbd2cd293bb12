"""Against the real E2B cloud: runs only when E2B_API_KEY is set (and no stand-in URL is)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from testing.runner_helpers import osiris_cli

pytestmark = [
    pytest.mark.e2b_live,
    pytest.mark.skipif(
        not os.environ.get("E2B_API_KEY") or bool(os.environ.get("E2B_API_URL")),
        reason="live E2B tests need E2B_API_KEY (and no E2B_API_URL stand-in)",
    ),
]
ROOT = Path(__file__).resolve().parents[2]


def test_quickstart_runs_in_a_real_sandbox(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    template = os.environ.get("OSIRIS_E2B_LIVE_TEMPLATE", "osiris")
    proc = osiris_cli(
        "run",
        "examples/quickstart.yaml",
        "--executor",
        "e2b",
        "--image",
        template,
        "--json",
        cwd=tmp_path,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "succeeded"
    assert sorted(summary["outputs"]) == ["output/revenue.csv", "output/revenue.parquet"]


def test_a_stock_template_gets_this_osiris_installed(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    proc = osiris_cli(
        "run",
        "examples/quickstart.yaml",
        "--executor",
        "e2b",
        "--image",
        "base",
        "--json",
        cwd=tmp_path,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr
    session = Path(json.loads(proc.stdout)["session_dir"])
    notices = [
        json.loads(x)
        for x in (session / "events.jsonl").read_text().splitlines()
        if '"run_notice"' in x
    ]
    assert any("installing osiris" in n["message"] for n in notices)
