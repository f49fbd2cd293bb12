"""INPUT_* variables → Inputs, the argv the CLI gets, and how the executor is chosen."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from osiris.action.inputs import (
    DEFAULTS,
    Inputs,
    choose_executor,
    expand_pipelines,
    read_inputs,
)
from osiris.action.outputs import OUTPUTS
from osiris.errors import UsageError

ACTION_YML = Path(__file__).resolve().parents[2] / "action.yml"


def test_defaults_match_action_yml() -> None:
    spec = yaml.safe_load(ACTION_YML.read_text())
    declared = {name: str(item.get("default", "")) for name, item in spec["inputs"].items()}
    assert declared == DEFAULTS
    assert spec["inputs"]["pipeline"]["required"] is True
    assert tuple(spec["outputs"]) == OUTPUTS
    assert spec["runs"] == {"using": "docker", "image": "Dockerfile"}


def test_only_the_pipeline_is_needed() -> None:
    assert read_inputs({"INPUT_PIPELINE": "a.yaml"}) == Inputs(pipelines=("a.yaml",))


def test_every_input_as_github_passes_it() -> None:
    environ = {
        "INPUT_PIPELINE": "pipelines/*.yaml\n  extra.yaml other.yaml\n",
        "INPUT_COMMAND": "compile",
        "INPUT_EXECUTOR": "e2b",
        "INPUT_CONFIG": "ci/osiris.yaml",
        "INPUT_CONNECTIONS": "ci/connections.yaml",
        "INPUT_PARAMS": "min_revenue=100\n# a comment\n\n country = DE \nquery=a=b\n",
        "INPUT_DRY-RUN": "True",
        "INPUT_TIMEOUT": "120",
        "INPUT_WORKING-DIRECTORY": "data",
        "INPUT_UPLOAD-ARTIFACT": "FALSE",
        "INPUT_ARTIFACT-NAME": "nightly",
        "INPUT_RETENTION-DAYS": "5",
        "INPUT_FAIL-ON-ERROR": "false",
        "INPUT_BASE-REF": "origin/main",
    }
    assert read_inputs(environ) == Inputs(
        pipelines=("pipelines/*.yaml", "extra.yaml", "other.yaml"),
        command="compile",
        executor="e2b",
        config="ci/osiris.yaml",
        connections="ci/connections.yaml",
        params=(("min_revenue", "100"), ("country", "DE"), ("query", "a=b")),
        dry_run=True,
        timeout=120,
        working_directory="data",
        upload_artifact=False,
        artifact_name="nightly",
        retention_days=5,
        fail_on_error=False,
        base_ref="origin/main",
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PIPELINE", " \n ", "input 'pipeline' is empty"),
        (
            "COMMAND",
            "deploy",
            "input 'command' must be one of run, validate, compile, plan-diff, list, got 'deploy'",
        ),
        ("EXECUTOR", "docker", "input 'executor' must be one of auto, local, e2b, got 'docker'"),
        ("DRY-RUN", "yes", "input 'dry-run' must be true or false, got 'yes'"),
        (
            "TIMEOUT",
            "1.5",
            "input 'timeout' must be a whole number of seconds (1 or more), got '1.5'",
        ),
        (
            "RETENTION-DAYS",
            "0",
            "input 'retention-days' must be a whole number of days (1 or more), got '0'",
        ),
        (
            "PARAMS",
            "just-a-word",
            "input 'params' expects one key=value per line, got 'just-a-word'",
        ),
    ],
)
def test_bad_inputs_are_named(name: str, value: str, message: str) -> None:
    environ = {"INPUT_PIPELINE": "a.yaml", f"INPUT_{name}": value}
    with pytest.raises(UsageError) as caught:
        read_inputs(environ)
    assert caught.value.message == message
    assert caught.value.exit_code == 2


def test_expand_pipelines(tmp_path: Path) -> None:
    for rel in ("b.yaml", "a.yaml", "sub/c.yaml", "sub/deep/d.yaml", "notes.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert expand_pipelines(("*.yaml",), tmp_path) == ["a.yaml", "b.yaml"]
    assert expand_pipelines(("sub/c.yaml", "**/*.yaml", "a.yaml"), tmp_path) == [
        "sub/c.yaml",
        "a.yaml",
        "b.yaml",
        "sub/deep/d.yaml",
    ]
    with pytest.raises(UsageError) as caught:
        expand_pipelines(("a.yaml", "pipelines/*.yml"), tmp_path)
    assert caught.value.message == f"pipeline 'pipelines/*.yml' matches no file in {tmp_path}"
    assert caught.value.hint == "paths and globs are relative to the working-directory input"
    with pytest.raises(UsageError):
        expand_pipelines(("sub",), tmp_path)  # a directory is not a pipeline


@pytest.mark.parametrize(
    ("requested", "environ", "configured", "source", "expected"),
    [
        (
            "local",
            {"E2B_API_KEY": "k"},
            "local",
            "default",
            ("local", "Executor local: set by the executor input"),
        ),
        (
            "auto",
            {"E2B_API_KEY": "k"},
            "local",
            "default",
            ("e2b", "Executor e2b (auto): E2B_API_KEY is set"),
        ),
        (
            "auto",
            {"E2B_API_KEY": ""},
            "local",
            "default",
            (
                "local",
                "Executor local (auto): E2B_API_KEY is not set; pass it in the step's env "
                "to run in an E2B sandbox",
            ),
        ),
        (
            "auto",
            {"E2B_API_KEY": "k"},
            "local",
            "osiris.yaml:3",
            ("local", "Executor local (auto): set by osiris.yaml:3"),
        ),
        (
            "auto",
            {},
            "e2b",
            "env OSIRIS_RUNNER__EXECUTOR",
            ("e2b", "Executor e2b (auto): set by env OSIRIS_RUNNER__EXECUTOR"),
        ),
    ],
)
def test_choose_executor(requested, environ, configured, source, expected) -> None:
    assert choose_executor(requested, environ, configured, source) == expected
