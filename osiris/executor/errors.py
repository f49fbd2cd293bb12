"""Map exceptions escaping a step to a stable error code and a one-line message."""

from __future__ import annotations

import errno

from osiris.components.api import StepError
from osiris.errors import OsirisError
from osiris.executor.network import NetworkDeniedError


def classify(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, StepError):
        return exc.code, exc.message
    if isinstance(exc, OsirisError):
        return "config.invalid", exc.message
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", "interrupted"
    if isinstance(exc, NetworkDeniedError):
        return "network.denied", str(exc)
    if isinstance(exc, MemoryError):
        return "resource.memory", "out of memory; raise runner.memory_mb or use smaller batches"
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return "write.disk_full", "no space left on device"
    name = type(exc).__module__.split(".")[0]
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if name == "pyarrow":
        return "data.invalid", first
    return "internal.error", f"{type(exc).__name__}: {first} (a bug; see stderr for details)"
