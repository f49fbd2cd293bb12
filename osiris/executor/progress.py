"""The executor's progress protocol: one marked JSON object per stdout line.

Runners read the child's stdout line by line; a line starting with MARKER is progress (turned
into events and metrics), any other line is ordinary output (`run_stdout`). Keeping it on
stdout, not a side channel, lets every transport (pipe, E2B stream) carry it unchanged.
"""

from __future__ import annotations

import json
from typing import Any

MARKER = "::osiris::"


def encode(kind: str, **fields: Any) -> str:
    return MARKER + json.dumps({"kind": kind, **fields}, sort_keys=True, default=str)


def decode(line: str) -> dict[str, Any] | None:
    if not line.startswith(MARKER):
        return None
    try:
        data = json.loads(line[len(MARKER) :])
    except ValueError:
        return None
    return data if isinstance(data, dict) and "kind" in data else None
