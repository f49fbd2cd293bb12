"""Incremental reads with `since: auto`: where the watermark comes from, and `lookback`.

An extractor with `cursor_column` and `since: auto` reads, before it runs, the largest
cursor_column value in the table its writer writes (the writer's driver: `watermark`), and
then only rows from that value on (`>=`: rows that share the last value are read again rather
than lost). `lookback` reads further back, for rows that arrive late. While the target table
is missing or empty, everything is read.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any

from osiris.document import Document
from osiris.pipeline.steps import CompiledStep

_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?|w|weeks?)\s*$",
    re.IGNORECASE,
)
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> dt.timedelta | None:
    """`2h`, `30 min`, `1 day`, `45s`, `1.5 weeks` → timedelta; None if it is none of those."""
    match = _DURATION.match(text)
    if match is None:
        return None
    unit = match.group(2).lower()
    return dt.timedelta(seconds=float(match.group(1)) * _SECONDS[unit[0]])


def back_from(value: Any, lookback: Any) -> Any:
    """`value` moved back by `lookback` (a number for numbers, a duration for times)."""
    if lookback in (None, 0, ""):
        return value
    if isinstance(value, dt.datetime | dt.date):
        span = parse_duration(lookback) if isinstance(lookback, str) else None
        if span is None:
            span = dt.timedelta(seconds=float(lookback))
        return value - span
    if isinstance(value, int | float) or type(value).__name__ == "Decimal":
        return value - type(value)(lookback)
    return value  # text cursors have no distance; `since` stays the largest value


def check_incremental(doc: Document, steps: dict[str, CompiledStep]) -> dict[str, str]:
    """step id -> the writer step whose target holds its watermark, for every `since: auto`."""
    consumers: dict[str, list[str]] = defaultdict(list)
    for sid, cs in steps.items():
        for need in cs.step.needs:
            consumers[need].append(sid)
    found: dict[str, str] = {}
    for sid, cs in steps.items():
        base = ("steps", cs.step.index, "config")
        lookback = cs.config.get("lookback")
        if cs.config.get("since") != "auto":
            if "lookback" in cs.config:
                doc.add(
                    (*base, "lookback"),
                    "lookback goes with since: auto",
                    "remove `lookback`, or write `since: auto`",
                    at_key=True,
                )
            continue
        writers = consumers.get(sid, [])
        if len(writers) != 1 or not steps[writers[0]].component.spec.watermark:
            doc.add(
                (*base, "since"),
                "since: auto reads the largest cursor_column value of the table this step's "
                "writer writes; the step needs exactly one database writer after it",
                "give `since` a value instead, or read into one database writer",
            )
            continue
        if isinstance(lookback, str) and parse_duration(lookback) is None:
            doc.add(
                (*base, "lookback"),
                f"'{lookback}' is not a duration",
                "write a number, or a duration such as 2h, 30 min or 1 day",
            )
            continue
        found[sid] = writers[0]
    return found
