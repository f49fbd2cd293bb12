"""Shared by the action tests: the environment GitHub gives the action's container, and readers
for the file commands it writes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SPEC = yaml.safe_load((ROOT / "action.yml").read_text())
SESSION = re.compile(r"run_\d{8}T\d{6}_[a-z0-9]{6}")
# the GITHUB_* variables that name a workflow run
GITHUB = {
    "GITHUB_SERVER_URL": "https://github.com",
    "GITHUB_REPOSITORY": "acme/pipelines",
    "GITHUB_RUN_ID": "4242",
}


def action_env(workspace: Path, inputs: dict[str, str], **extra: str) -> dict[str, str]:
    """The environment of the action's container: job env, GITHUB_*, INPUT_* for every input."""
    ours = ("INPUT_", "GITHUB_", "ACTIONS_", "OSIRIS_", "RUNNER_", "TESTDB_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours) and k != "E2B_API_KEY"}
    commands = workspace.parent / "file_commands"
    commands.mkdir(exist_ok=True)
    for name in ("set_output", "step_summary"):
        (commands / name).write_text("")
    env.update(
        GITHUB_ACTIONS="true",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_OUTPUT=str(commands / "set_output"),
        GITHUB_STEP_SUMMARY=str(commands / "step_summary"),
        NO_PROXY="127.0.0.1,localhost",
    )
    for name, item in SPEC["inputs"].items():
        env[f"INPUT_{name.upper()}"] = str(item.get("default", ""))
    env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    env.update(extra)
    return env


def changed_only_env(workspace: Path, pipeline: str, base_ref: str, **extra: str) -> dict[str, str]:
    """The environment of `command: list` with `changed-only` against `base_ref`."""
    inputs = {"pipeline": pipeline, "command": "list", "changed-only": "true", "base-ref": base_ref}
    return action_env(workspace, inputs, **extra)


def read_outputs(env: dict[str, str]) -> dict[str, str]:
    """$GITHUB_OUTPUT parsed as the runner parses it (heredoc records only, as we write)."""
    return parse_outputs(Path(env["GITHUB_OUTPUT"]))


def parse_outputs(path: Path) -> dict[str, str]:
    """A GitHub outputs file parsed as the runner parses it (heredoc records only, as we write)."""
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines, values = text.split("\n")[:-1], {}
    while lines:
        name, delimiter = lines.pop(0).split("<<")
        assert delimiter.startswith("ghadelimiter_")
        end = lines.index(delimiter)
        values[name] = "\n".join(lines[:end])
        lines = lines[end + 1 :]
    return values


def read_summary(env: dict[str, str]) -> str:
    return Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")


def untimed(text: str) -> str:
    """Session ids and durations replaced, so that a summary can be compared whole."""
    text = SESSION.sub("<session>", text)
    return re.sub(r"\b\d+(\.\d+)? (ms|s)\b", "<t>", text)


def make_workspace(tmp_path: Path) -> Path:
    """A workspace holding a copy of the repository's examples/."""
    import shutil

    workspace = tmp_path / "workspace"
    shutil.copytree(ROOT / "examples", workspace / "examples")
    return workspace
