"""Workflow commands and file commands, through github-action-utils.

github-action-utils escapes command data and properties the way the runner expects, flushes
every command (so a `::add-mask::` is on the wire before the line it protects), and writes
`$GITHUB_OUTPUT` records as heredocs with a fresh `ghadelimiter_<uuid4 hex>` that it checks
against the value. It reads the file paths from `os.environ`, which `osiris.action.main` sets
to the environment it was given. What is ours: annotation texts for located problems, and
keeping the job summary under the runner's 1 MiB limit.

One gap is filled here: github-action-utils writes a command without properties as
`::add-mask ::value` (with a space). GitHub's runner accepts that, but nektos/act's parser does
not and would print the secret instead of masking it; so masks are written as
`::add-mask::value`, and annotations always carry a title.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import github_action_utils as gha

from osiris.errors import Problem
from osiris.session import Masker

__all__ = [
    "SUMMARY_LIMIT",
    "TITLE",
    "annotate_problem",
    "error",
    "fit_summary",
    "group",
    "mask",
    "notice",
    "problem_annotation",
    "set_outputs",
    "warning",
    "workspace_path",
    "write_summary",
]

# The runner drops a step summary over 1 MiB whole (FileCommandManager.cs).
SUMMARY_LIMIT = 1024 * 1024
_TRUNCATED = (
    "\n\n> **Summary truncated** to stay under GitHub's 1 MiB limit: {shown} of {total} bytes "
    "shown. The full details are in the session bundle and the step log.\n"
)

group = gha.group
TITLE = "Osiris"


def notice(message: str, *, title: str = TITLE, file: str | None = None) -> None:
    gha.notice(message, title=title, file=file)


def warning(
    message: str,
    *,
    title: str = TITLE,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
) -> None:
    gha.warning(message, title=title, file=file, line=line, col=col)


def error(
    message: str,
    *,
    title: str = TITLE,
    file: str | None = None,
    line: int | None = None,
    col: int | None = None,
) -> None:
    gha.error(message, title=title, file=file, line=line, col=col)


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def mask(values: Iterable[str]) -> None:
    """Register each value with `::add-mask::`, in a stable order."""
    for value in sorted(set(values)):
        if value.strip():  # the runner warns about empty masks
            gha.echo(f"::add-mask::{_escape_data(value)}")


def workspace_path(path: Path | str, workspace: Path) -> str:
    """`path` relative to the workspace with `/` separators, as annotations and outputs want it."""
    absolute = Path(os.path.abspath(path))
    if absolute.is_relative_to(workspace):
        return absolute.relative_to(workspace).as_posix()
    return absolute.as_posix()


def problem_annotation(problem: Problem) -> dict[str, Any]:
    """The arguments of the annotation for a problem whose file is workspace-relative."""
    return {
        "message": problem.describe(),
        "title": "Pipeline warning" if problem.severity == "warning" else "Invalid pipeline",
        "file": problem.file or None,
        "line": problem.line or None,
        "col": problem.col or None,
    }


def annotate_problem(problem: Problem, *, masker: Masker) -> None:
    args = problem_annotation(problem)
    annotate = warning if problem.severity == "warning" else error
    annotate(masker.mask(args.pop("message")), **args)


def set_outputs(outputs: Mapping[str, str]) -> None:
    """Write the step outputs; nothing to do outside Actions (no GITHUB_OUTPUT)."""
    if not os.environ.get("GITHUB_OUTPUT"):
        return
    for name, value in outputs.items():
        gha.set_output(name, value)


def fit_summary(markdown: str, limit: int) -> str:
    """`markdown` cut at a line boundary, with a note, so that it encodes to at most `limit`."""
    data = markdown.encode("utf-8")
    if len(data) <= limit:
        return markdown
    note_room = len(_TRUNCATED.format(shown=limit, total=len(data)).encode("utf-8")) + 4
    keep = data[: max(0, limit - note_room)].decode("utf-8", "ignore")
    keep = keep[: keep.rfind("\n") + 1] if "\n" in keep else ""
    shown = len(keep.encode("utf-8"))
    fences = sum(1 for line in keep.splitlines() if line.lstrip().startswith("```"))
    # A cut inside a code block would swallow the note; close the block first.
    close = "```\n" if fences % 2 else ""
    return keep + close + _TRUNCATED.format(shown=shown, total=len(data))


def write_summary(markdown: str, *, masker: Masker, limit: int = SUMMARY_LIMIT) -> None:
    """Append the masked job summary, trimmed to the room left under `limit`.

    Does nothing outside Actions (no GITHUB_STEP_SUMMARY).
    """
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        return
    try:
        used = Path(path).stat().st_size
    except OSError:
        used = 0
    # gha appends one newline after the text.
    text = fit_summary(masker.mask(markdown).rstrip("\n"), max(0, limit - used - 1))
    gha.append_job_summary(text.rstrip("\n"))
