"""Workflow commands and file commands as the runner reads them."""

from __future__ import annotations

from pathlib import Path

import pytest

from osiris.action import workflow
from osiris.action.report import PipelineResult, Report, StepRow
from osiris.action.summary import render
from osiris.errors import Problem
from osiris.session import Masker


def test_masks_are_escaped_and_have_no_space(capsys: pytest.CaptureFixture[str]) -> None:
    # `::add-mask ::x` (what github-action-utils writes) is ignored by nektos/act.
    workflow.mask(["b-secret", "two\nlines", "50%\r", "   ", "b-secret"])
    assert capsys.readouterr().out.splitlines() == [
        "::add-mask::50%25%0D",
        "::add-mask::b-secret",
        "::add-mask::two%0Alines",
    ]


def test_annotation_properties_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    problem = Problem(
        "expected a string, got null",
        file="dir,with:odd/p.yaml",
        line=3,
        col=5,
        path="config.query",
        step_id="load",
        hint="100% sure",
    )
    workflow.annotate_problem(problem, masker=Masker())
    assert capsys.readouterr().out == (
        "::error title=Invalid pipeline,file=dir%2Cwith%3Aodd/p.yaml,col=5,line=3::step 'load' → "
        "config.query: expected a string, got null (hint: 100%25 sure)\n"
    )


def test_an_unlocated_problem_has_no_position(capsys: pytest.CaptureFixture[str]) -> None:
    workflow.annotate_problem(Problem("no steps", file="p.yaml"), masker=Masker(["steps"]))
    assert capsys.readouterr().out == "::error title=Invalid pipeline,file=p.yaml::no ***\n"


def test_workspace_path(tmp_path: Path) -> None:
    assert workflow.workspace_path(tmp_path / "a" / "b.yaml", tmp_path) == "a/b.yaml"
    assert workflow.workspace_path("/elsewhere/x.yaml", tmp_path) == "/elsewhere/x.yaml"


def test_fit_summary_cuts_at_a_line_and_says_so() -> None:
    text = "".join(f"line {i}\n" for i in range(1000))
    assert workflow.fit_summary(text, 10_000) == text
    fitted = workflow.fit_summary(text, 1000)
    assert len(fitted.encode()) <= 1000
    kept, note = fitted.split("\n\n> ")
    assert kept.endswith("\n")
    assert text.startswith(kept)
    assert note == (
        f"**Summary truncated** to stay under GitHub's 1 MiB limit: {len(kept)} of "
        f"{len(text)} bytes shown. The full details are in the session bundle and the step log.\n"
    )


def test_fit_summary_closes_a_cut_code_block() -> None:
    text = "intro\n```diff\n" + "+ a line of the diff\n" * 200 + "```\n"
    fitted = workflow.fit_summary(text, 600)
    assert len(fitted.encode()) <= 600
    assert fitted.split("\n\n> **Summary truncated**")[0].endswith("+ a line of the diff\n```\n")


def test_write_summary_appends_masked_within_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "step_summary"
    path.write_text("# from an earlier command\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    body = "password hunter2-secret\n" + "x" * 5000 + "\n"
    workflow.write_summary(body, masker=Masker(["hunter2-secret"]), limit=2000)
    written = path.read_text()
    assert len(written.encode()) <= 2000
    assert written.startswith("# from an earlier command\npassword ***\n")
    assert "Summary truncated" in written


def test_outside_actions_nothing_is_written(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    workflow.write_summary("# hi", masker=Masker())
    workflow.set_outputs({"status": "ok"})


def test_set_outputs_writes_heredocs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "set_output"
    path.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(path))
    workflow.set_outputs({"one": "1", "multi": "a\nb\n", "empty": ""})
    lines = path.read_text().split("\n")
    assert lines[0].startswith("one<<ghadelimiter_")
    delimiter = lines[0].split("<<")[1]
    assert lines[1:3] == ["1", delimiter]
    assert lines[4:7] == ["a", "b", ""]


def test_table_cells_are_escaped() -> None:
    report = Report("run", executor="local")
    report.pipelines.append(
        PipelineResult(
            "p|q.yaml",
            "failed",
            1,
            name="a | b",
            steps=[StepRow("s`1", "x.y", "failed", rows=1234567)],
            error="bad\nthing | here",
        )
    )
    text = render(report)
    assert "| a \\| b<br>`p\\|q.yaml` |  | ❌ failed |  |  |  |" in text
    assert "| `` s`1 `` | `x.y` | ❌ failed | 1,234,567 |  |" in text
    assert "### ❌ failed — a \\| b\n" in text
    assert "**Error:** bad thing | here" in text
