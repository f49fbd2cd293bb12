"""`command: list`: the `pipelines` output a job matrix fans out over, optionally only the
pipelines whose compiled plan changed since the base ref (a real git checkout)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from osiris.action import main
from tests.action.helpers import action_env, changed_only_env, read_outputs, read_summary
from tests.action.test_plan import checkout  # noqa: F401  (the fixture)


def test_every_pipeline_is_listed_for_the_matrix(
    checkout: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = action_env(checkout, {"pipeline": "examples/*.yaml", "command": "list"})

    assert main(env) == 0

    outputs = read_outputs(env)
    assert json.loads(outputs["pipelines"]) == [
        "examples/broken.yaml",
        "examples/new.yaml",
        "examples/quickstart.yaml",
        "examples/same.yaml",
    ]
    assert (outputs["status"], outputs["exit-code"], outputs["session-id"]) == ("listed", "0", "")
    assert "4 of 4 pipelines listed" in read_summary(env)


def test_changed_only_lists_what_a_pull_request_changes(
    checkout: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    examples = checkout / "examples"
    (examples / "fails.yaml").write_text("oml_version: '0.1.0'\nname: x\nsteps: [\n")
    env = changed_only_env(checkout, "examples/*.yaml", "main")

    assert main(env) == 0

    outputs = read_outputs(env)
    # same.yaml compiles to the plan it had at main: left out; the rest changed, is new, or
    # does not compile here (its matrix job reports that)
    assert json.loads(outputs["pipelines"]) == [
        "examples/broken.yaml",
        "examples/fails.yaml",
        "examples/new.yaml",
        "examples/quickstart.yaml",
    ]
    summary = read_summary(env)
    assert "4 of 5 pipelines listed" in summary
    assert "`examples/same.yaml` | no | same plan as at main |" in summary
    assert "`examples/quickstart.yaml` | yes | plan changed since main |" in summary
    assert "`examples/new.yaml` | yes | new |" in summary
    assert (
        "| `examples/fails.yaml` | yes | does not compile here; its job will say why |" in summary
    )


def test_changed_only_needs_the_base_in_the_checkout(
    checkout: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = changed_only_env(checkout, "examples/*.yaml", "origin/nope")

    assert main(env) == 2

    assert "the base ref 'origin/nope' is not in this checkout" in capsys.readouterr().out
    assert read_outputs(env)["pipelines"] == ""
