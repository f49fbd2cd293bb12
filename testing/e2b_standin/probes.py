"""Small polling helpers for tests that watch processes and sandboxes end."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def pid_alive(pid: int) -> bool:
    """Whether a host process exists and is not a zombie (a non-reaping init may leave those)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def eventually(check: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll `check` until it holds; the bound only keeps a broken test from hanging."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.02)
    return check()
