"""JSON Schemas of the session files: event.schema.json, metric.schema.json, session.schema.json."""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

__all__ = ["SCHEMA_NAMES", "load_schema"]

SCHEMA_NAMES = ("event", "metric", "session")


@cache
def _load(name: str) -> str:
    return files(__name__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """The published schema `name` ("event", "metric" or "session") as a fresh dict."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; expected one of {', '.join(SCHEMA_NAMES)}")
    schema: dict[str, Any] = json.loads(_load(name))
    return schema
