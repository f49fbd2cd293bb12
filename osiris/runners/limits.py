from __future__ import annotations

from osiris.errors import RunnerError

__all__ = ["LimitExceededError"]


class LimitExceededError(RunnerError):
    """A run limit (timeout, idle, memory) was exceeded; the run was stopped."""

    def __init__(self, limit: str, message: str) -> None:
        super().__init__(message, hint=f"raise runner.{limit} in osiris.yaml if this is expected")
        self.limit = limit
