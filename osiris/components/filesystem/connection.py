"""The `filesystem` connection family (`base_dir`); see osiris.components.families."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from osiris.components.api import StepError
from osiris.components.families import Endpoint


def endpoints(fields: Mapping[str, Any]) -> list[Endpoint]:
    return []


def check(fields: Mapping[str, Any], *, timeout: float) -> str:
    base = Path(str(fields.get("base_dir") or "."))
    if not base.is_dir():
        raise StepError("file.not_found", f"base_dir {base} is not a directory; create it")
    access = "read-write" if os.access(base, os.W_OK) else "read-only"
    return f"directory {base} ({access})"
