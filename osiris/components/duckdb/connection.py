"""The `duckdb` connection family (`path` of a database file); see osiris.components.families.

DuckDB runs in the executor's process, so a duckdb connection reaches no network host.
"""

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
    path = str(fields.get("path") or ":memory:")
    if path == ":memory:":
        return "in-memory database"
    file = Path(path)
    if file.is_file():
        import duckdb

        try:
            duckdb.connect(path, read_only=True).close()
        except duckdb.Error as exc:
            raise StepError(
                "file.invalid", f"{path} is not a DuckDB database: {str(exc).splitlines()[0]}"
            ) from None
        return f"database file {path}"
    parent = file.parent
    if not parent.is_dir():
        raise StepError("file.not_found", f"{path}: its folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise StepError("file.not_found", f"{path} does not exist and {parent} is not writable")
    return f"{path} does not exist yet; its folder is writable"
