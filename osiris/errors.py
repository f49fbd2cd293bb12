"""The user-facing error types and the exit codes they map to.

    OsirisError            message + hint; exit 3 unless a subclass says otherwise
    ├── UsageError         bad command line, configuration or environment    exit 2
    ├── PipelineError      validation / compile problems with positions      exit 2
    ├── ConnectionsError   connections file, missing env var, allow-list    exit 2
    └── RunnerError        backend could not run the job or a limit was hit  exit 4

Exit codes (design.md): 0 success; 1 a step failed (a result, not an exception); 2 nothing ran
because the input was wrong; 3 a bug; 4 infrastructure or limit; 130 interrupted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_RUNNER = 4
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Problem:
    """One validation finding, located in a file."""

    message: str
    file: str = ""
    line: int = 0
    col: int = 0
    path: str = ""
    step_id: str | None = None
    hint: str | None = None
    severity: str = "error"  # or "warning": the input works, but differs from what it says

    def describe(self) -> str:
        """The finding without its location: "step 'x' → path: message (hint: ...)"."""
        parts = []
        if self.step_id is not None:
            parts.append(f"step '{self.step_id}'")
        if self.path:
            parts.append(self.path)
        text = " → ".join(parts) + ": " + self.message if parts else self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def format(self) -> str:
        where = self.file or "<input>"
        if self.line:
            where += f":{self.line}:{self.col}"
        label = "warning: " if self.severity == "warning" else ""
        return f"{where}: {label}{self.describe()}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class OsirisError(Exception):
    """An error the user can act on: printed as one line, never with a traceback."""

    exit_code = EXIT_INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def format(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def to_dict(self) -> dict[str, Any]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint}


class UsageError(OsirisError):
    exit_code = EXIT_USAGE


class ConnectionsError(OsirisError):
    exit_code = EXIT_USAGE


class RunnerError(OsirisError):
    exit_code = EXIT_RUNNER


class PipelineError(OsirisError):
    """One or more problems in a pipeline file; all of them are reported together."""

    exit_code = EXIT_USAGE

    def __init__(self, problems: list[Problem]) -> None:
        """`problems` may include warnings; they are listed but not counted as problems."""
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col, p.message))
        n = sum(p.severity != "warning" for p in self.problems)
        warned = len(self.problems) - n
        also = f" (and {warned} warning{'s' if warned != 1 else ''})" if warned else ""
        super().__init__(f"{n} problem{'s' if n != 1 else ''} found{also}")

    def format(self) -> str:
        return "\n".join(p.format() for p in self.problems) + f"\n{self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "problems": [p.to_dict() for p in self.problems],
        }
