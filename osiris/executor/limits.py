"""Limits the executor enforces on itself, so they hold the same way on every runner."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHECK_SECONDS = 0.25


def rss_bytes_of_group(pgid: int) -> int:
    """Resident memory of every process in the process group `pgid` (Linux /proc)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            if int(fields[2]) == pgid:
                total += int(fields[21]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


def start_memory_watchdog(memory_mb: int | None, emit: Callable[..., Any]) -> None:
    """Stop the executor (exit 137) when its process group's RSS goes over `memory_mb`."""
    if not memory_mb or not Path("/proc/self/stat").exists():
        return
    limit = memory_mb * 1024 * 1024
    pgid = os.getpgid(0)

    def check() -> None:
        used = rss_bytes_of_group(pgid)
        if used > limit:
            emit(
                "limit",
                limit="memory_mb",
                message=f"the run used {used // (1024 * 1024)} MB, over its memory limit "
                f"of {memory_mb} MB",
            )
            os._exit(137)

    _every_check(check, name="osiris-memory-watchdog")


def _every_check(check: Callable[[], None], *, name: str) -> None:
    """Run `check` every CHECK_SECONDS on a daemon thread, for the life of the process."""

    def loop() -> None:
        never = threading.Event()  # waited on as a sleep between checks
        while not never.wait(CHECK_SECONDS):
            check()

    threading.Thread(target=loop, name=name, daemon=True).start()


class ParentWatch:
    """End the executor's process group once the process that started it is gone.

    A runner killed with SIGKILL cannot stop its executor; without this the executor (and what
    it started) would go on writing to targets with nobody recording the session. Checked by a
    thread, when writing progress fails, and when the executor ends.
    """

    def __init__(self) -> None:
        self.parent = os.getppid()

    def parent_gone(self) -> bool:
        return os.getppid() != self.parent

    def end_group_if_orphaned(self) -> None:
        if self.parent_gone():
            os.killpg(os.getpgid(0), signal.SIGKILL)

    def start(self) -> None:
        _every_check(self.end_group_if_orphaned, name="osiris-parent-watchdog")
