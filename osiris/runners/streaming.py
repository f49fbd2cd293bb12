"""The live loop every runner shares: executor output lines in, limits checked as they arrive.

A backend's reader threads put `(stream, line)` items on a queue (`line` None when that stream
ended, stream "error" with an exception when the transport failed); `follow` feeds the lines to
the relay and raises `LimitExceededError` when the run exceeds its time or idle limit (the
executor itself watches memory and reports it as a progress line).
"""

from __future__ import annotations

import codecs
import queue
import time
from typing import TYPE_CHECKING, Any

from osiris.runners.limits import LimitExceededError

if TYPE_CHECKING:
    from osiris.runners.relay import ProgressRelay

Item = tuple[str, Any]
POLL_SECONDS = 0.2


def follow(
    lines: queue.Queue[Item],
    relay: ProgressRelay,
    limits: dict[str, Any],
    *,
    streams: int = 2,
) -> None:
    start = last = time.monotonic()
    timeout = limits.get("timeout_seconds") or 0
    idle = limits.get("idle_timeout_seconds") or 0
    while streams:
        try:
            name, line = lines.get(timeout=POLL_SECONDS)
        except queue.Empty:
            pass
        else:
            if name == "error":
                raise line
            if line is None:
                streams -= 1
            else:
                last = time.monotonic()
                (relay.on_stdout if name == "stdout" else relay.on_stderr)(line)
        now = time.monotonic()
        if timeout and now - start > timeout:
            raise LimitExceededError(
                "timeout_seconds", f"the run exceeded its time limit of {timeout} s"
            )
        if idle and now - last > idle:
            raise LimitExceededError(
                "idle_timeout_seconds", f"the run produced no output for {idle} s"
            )


class LineSplitter:
    """Turn chunks of text (as a stream delivers them) into whole lines on a queue."""

    def __init__(self, name: str, out: queue.Queue[Item]) -> None:
        self.name = name
        self.out = out
        self._buffer = ""

    def __call__(self, chunk: str) -> None:
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split("\n")
        for line in complete:
            self.out.put((self.name, line.rstrip("\r")))

    def close(self) -> None:
        if self._buffer:
            self.out.put((self.name, self._buffer))
            self._buffer = ""
        self.out.put((self.name, None))


def utf8_decoder() -> codecs.IncrementalDecoder:
    return codecs.getincrementaldecoder("utf-8")(errors="replace")
