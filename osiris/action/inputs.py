"""The action's inputs: `INPUT_*` variables → one frozen `Inputs`, and the CLI argv built from it.

GitHub passes every input declared in action.yml as `INPUT_<NAME>` (upper case, spaces to `_`,
dashes kept: `INPUT_DRY-RUN`), with action.yml's default when the workflow leaves it out.
`DEFAULTS` repeats those defaults so that `docker run` without them behaves the same; a test keeps
the two in step.
"""

from __future__ import annotations

import glob
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from osiris.errors import UsageError

__all__ = [
    "COMMANDS",
    "DEFAULTS",
    "EXECUTORS",
    "Inputs",
    "choose_executor",
    "expand_pipelines",
    "read_inputs",
]

COMMANDS = ("run", "validate", "compile", "plan-diff", "list")
EXECUTORS = ("auto", "local", "e2b")
DEFAULTS: dict[str, str] = {
    "pipeline": "",
    "command": "run",
    "executor": "auto",
    "config": "",
    "connections": "",
    "params": "",
    "dry-run": "false",
    "timeout": "",
    "parallel": "",
    "working-directory": ".",
    "upload-artifact": "true",
    "artifact-name": "",
    "retention-days": "",
    "fail-on-error": "true",
    "base-ref": "",
    "changed-only": "false",
}
_TRUE = ("true", "True", "TRUE")
_FALSE = ("false", "False", "FALSE")
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Inputs:
    """What the workflow asked for, checked; `pipelines` are the patterns as written."""

    pipelines: tuple[str, ...]
    command: str = "run"
    executor: str = "auto"
    config: str = ""
    connections: str = ""
    params: tuple[tuple[str, str], ...] = ()
    dry_run: bool = False
    timeout: int | None = None
    parallel: int | None = None
    working_directory: str = "."
    upload_artifact: bool = True
    artifact_name: str = ""
    retention_days: int | None = None
    fail_on_error: bool = True
    base_ref: str = ""
    changed_only: bool = False


def _raw(environ: Mapping[str, str], name: str) -> str:
    key = "INPUT_" + name.upper().replace(" ", "_")
    value = environ.get(key)
    return (DEFAULTS[name] if value is None else value).strip()


def _bool(environ: Mapping[str, str], name: str) -> bool:
    value = _raw(environ, name)
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"input '{name}' must be true or false, got '{value}'")


def _positive(environ: Mapping[str, str], name: str, unit: str) -> int | None:
    value = _raw(environ, name)
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise UsageError(
            f"input '{name}' must be a whole number of {unit} (1 or more), got '{value}'"
        )
    return int(value)


def _choice(environ: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = _raw(environ, name)
    if value not in allowed:
        raise UsageError(f"input '{name}' must be one of {', '.join(allowed)}, got '{value}'")
    return value


def _params(text: str) -> tuple[tuple[str, str], ...]:
    params = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(
                f"input 'params' expects one key=value per line, got '{line}'",
                hint="params: |\n    min_revenue=100\n    country=DE",
            )
        params.append((key, value.strip()))
    return tuple(params)


def read_inputs(environ: Mapping[str, str]) -> Inputs:
    """The inputs found in `environ`; raises UsageError naming the first bad one."""
    patterns = tuple(_raw(environ, "pipeline").split())
    if not patterns:
        raise UsageError(
            "input 'pipeline' is empty",
            hint="name one or more pipeline files or globs, e.g. `pipeline: pipelines/*.yaml`",
        )
    return Inputs(
        pipelines=patterns,
        command=_choice(environ, "command", COMMANDS),
        executor=_choice(environ, "executor", EXECUTORS),
        config=_raw(environ, "config"),
        connections=_raw(environ, "connections"),
        params=_params(_raw(environ, "params")),
        dry_run=_bool(environ, "dry-run"),
        timeout=_positive(environ, "timeout", "seconds"),
        parallel=_positive(environ, "parallel", "pipelines"),
        working_directory=_raw(environ, "working-directory") or ".",
        upload_artifact=_bool(environ, "upload-artifact"),
        artifact_name=_raw(environ, "artifact-name"),
        retention_days=_positive(environ, "retention-days", "days"),
        fail_on_error=_bool(environ, "fail-on-error"),
        base_ref=_raw(environ, "base-ref"),
        changed_only=_bool(environ, "changed-only"),
    )


def expand_pipelines(patterns: tuple[str, ...], cwd: Path) -> list[str]:
    """Pipeline paths relative to `cwd`, in the order given, globs expanded and sorted.

    Raises UsageError for a pattern that matches no file, naming the directory searched.
    """
    found: dict[str, None] = {}
    for pattern in patterns:
        if _GLOB_CHARS & set(pattern):
            matches = sorted(
                m for m in glob.glob(pattern, root_dir=cwd, recursive=True) if (cwd / m).is_file()
            )
        else:
            matches = [pattern] if (cwd / pattern).is_file() else []
        if not matches:
            raise UsageError(
                f"pipeline '{pattern}' matches no file in {cwd}",
                hint="paths and globs are relative to the working-directory input",
            )
        found.update(dict.fromkeys(Path(m).as_posix() for m in matches))
    return list(found)


def choose_executor(
    requested: str, environ: Mapping[str, str], configured: str, source: str
) -> tuple[str, str]:
    """The executor to use and why, for the notice.

    `configured`/`source` are runner.executor from the osiris configuration and where it came
    from ("default" when nobody set it). With `auto`, a value set in osiris.yaml or
    OSIRIS_RUNNER__EXECUTOR wins; otherwise e2b when E2B_API_KEY is set, else local.
    """
    if requested != "auto":
        return requested, f"Executor {requested}: set by the executor input"
    if source != "default":
        return configured, f"Executor {configured} (auto): set by {source}"
    if environ.get("E2B_API_KEY"):
        return "e2b", "Executor e2b (auto): E2B_API_KEY is set"
    return "local", (
        "Executor local (auto): E2B_API_KEY is not set; pass it in the step's env to run in "
        "an E2B sandbox"
    )
