"""Append-only writers for the session directory; every one masks at emit time.

Each line is written whole and flushed before `write` returns, so a reader (or a crash) sees
complete lines plus at most one torn last line — which `read_jsonl` reports instead of failing.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import IO, Any

from osiris.session.masking import Masker

__all__ = [
    "EventFilter",
    "JsonlContent",
    "JsonlWriter",
    "MaskingFormatter",
    "MaskingLineWriter",
    "log_to",
    "read_jsonl",
    "utc_timestamp",
]


def utc_timestamp(when: datetime | None = None) -> str:
    """ISO-8601 UTC with milliseconds and a Z, e.g. 2025-01-31T08:15:00.123Z."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


class EventFilter:
    """`logging.events`: event names or fnmatch globs; `*` admits every event, even future ones."""

    def __init__(self, patterns: Iterable[str] = ("*",)) -> None:
        self.patterns = (patterns,) if isinstance(patterns, str) else tuple(patterns)
        self._everything = "*" in self.patterns
        self._cache: dict[str, bool] = {}

    def admits(self, event: str) -> bool:
        if self._everything:
            return True
        hit = self._cache.get(event)
        if hit is None:
            hit = any(fnmatchcase(event, p) for p in self.patterns)
            self._cache[event] = hit
        return hit


_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# The e2b SDK talks through httpx; its DEBUG chatter would drown the run's own log.
_QUIET_LOGGERS = ("httpx", "httpcore")


@contextmanager
def log_to(path: Path, masker: Masker, *, console_level: int | None = None) -> Iterator[None]:
    """Attaches masked handlers to the `osiris` logger for the duration of the block.

    A DEBUG file handler on `path`, plus a stderr handler at `console_level` when given; both
    are removed (and the logger's level restored) on exit.
    """
    root = logging.getLogger("osiris")
    file_handler = logging.FileHandler(path, encoding="utf-8")
    file_handler.setLevel(logging.DEBUG)
    file_handler.setFormatter(MaskingFormatter(masker, _LOG_FORMAT))
    handlers: list[logging.Handler] = [file_handler]
    if console_level is not None:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(console_level)
        console.setFormatter(MaskingFormatter(masker, "%(message)s"))
        handlers.append(console)
    saved_level = root.level
    quiet = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    root.setLevel(logging.DEBUG)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for handler in handlers:
        root.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(saved_level)
        for name, level in quiet.items():
            logging.getLogger(name).setLevel(level)


def _dumps(record: Any) -> str:
    # Insertion order, not sorted: "ts", "session", "event" lead every line for human readers.
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


class _LineFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = path.open("a", encoding="utf-8", buffering=1, newline="\n")

    def write_line(self, line: str) -> bool:
        with self._lock:
            if self._file is None:
                return False
            self._file.write(line + "\n")
            self._file.flush()
            return True

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    @property
    def closed(self) -> bool:
        return self._file is None


class JsonlWriter(_LineFile):
    """One masked JSON object per line; writes after `close()` are dropped."""

    def __init__(self, path: Path, masker: Masker) -> None:
        super().__init__(path)
        self.masker = masker

    def write(self, record: dict[str, Any]) -> bool:
        return self.write_line(_dumps(self.masker.mask_obj(record)))


class MaskingLineWriter(_LineFile):
    """Appends masked text lines (a captured stdout/stderr). Call it with one line at a time.

    A chunk holding several lines is masked as a whole first, so a multi-line secret inside
    one chunk is caught even when its lines are too short to be registered on their own.
    """

    def __init__(self, path: Path, masker: Masker) -> None:
        super().__init__(path)
        self.masker = masker

    def __call__(self, text: str) -> None:
        if text.endswith("\n"):
            text = text[:-1]
        self.write_line(self.masker.mask(text))


class MaskingFormatter(logging.Formatter):
    """Formats like `logging.Formatter`, then masks — tracebacks included."""

    def __init__(self, masker: Masker, fmt: str | None = None) -> None:
        super().__init__(fmt)
        self.masker = masker

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_timestamp(datetime.fromtimestamp(record.created, UTC))

    def format(self, record: logging.LogRecord) -> str:
        return self.masker.mask(super().format(record))


@dataclass
class JsonlContent:
    """What could be read from a JSONL file, and what could not."""

    records: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    truncated: bool = False


def read_jsonl(path: Path) -> JsonlContent:
    """Reads a JSONL file written by a process that may have been killed mid-line."""
    content = JsonlContent()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        content.problems.append(f"{path.name} is missing")
        return content
    except OSError as exc:
        content.problems.append(f"{path.name} cannot be read: {exc.strerror}")
        return content
    lines = data.split(b"\n")
    last = lines.pop()  # b"" when the file ends with a newline, as every complete file does
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        record = _parse(raw)
        if record is None:
            content.problems.append(f"{path.name}:{number}: not a JSON object, skipped")
        else:
            content.records.append(record)
    if last.strip():
        record = _parse(last)
        if record is None:
            content.truncated = True
            content.problems.append(
                f"{path.name}:{len(lines) + 1}: last line is truncated (the writer stopped "
                "mid-line), ignored"
            )
        else:
            content.records.append(record)
    return content


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None
