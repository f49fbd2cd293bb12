"""Runner registry, keyed by the `--executor` value; backends are imported on demand."""

from __future__ import annotations

import importlib

from osiris.errors import UsageError
from osiris.runners.base import PreparedRun, Runner, RunResult

__all__ = ["RUNNERS", "PreparedRun", "RunResult", "Runner", "get_runner"]

RUNNERS: dict[str, str] = {
    "local": "osiris.runners.local:LocalRunner",
    "e2b": "osiris.runners.e2b:E2BRunner",
}


def get_runner(name: str) -> type[Runner]:
    target = RUNNERS.get(name)
    if target is None:
        raise UsageError(
            f"unknown executor '{name}'; expected one of: {', '.join(sorted(RUNNERS))}",
            hint="set runner.executor in osiris.yaml, OSIRIS_RUNNER__EXECUTOR or --executor",
        )
    module, _, attr = target.partition(":")
    try:
        cls: type[Runner] = getattr(importlib.import_module(module), attr)
    except ImportError as exc:
        raise UsageError(
            f"the {name} executor is not available: {exc}",
            hint=f"pip install 'osiris-run[{name}]'",
        ) from exc
    return cls
