"""Connection families: what a connection of each family in osiris_connections.yaml reaches.

A family module (`osiris/components/<family>/connection.py`) provides::

    def endpoints(fields) -> list[tuple[str, int | None]]
        # the hosts (and ports) a connection with these resolved fields talks to; the
        # network allow-list is checked against them before a run
    def check(fields, *, timeout: float) -> str
        # connect, and say what answered ("MariaDB 10.11 at db:3306"); StepError if it fails,
        # with the same codes a step would report

`fields` are resolved and canonical (`osiris.connections.resolve_connection`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from osiris.network import DEFAULT_PORTS

__all__ = ["FAMILIES", "Endpoint", "endpoints", "family_module"]

Endpoint = tuple[str, int | None]

# keyed by the family name in osiris_connections.yaml; the module is imported when used
FAMILIES = {
    "duckdb": "osiris.components.duckdb.connection",
    "filesystem": "osiris.components.filesystem.connection",
    "mysql": "osiris.components.mysql.connection",
    "postgres": "osiris.components.postgres.connection",
    "supabase": "osiris.components.supabase.connection",
}


def family_module(name: str) -> ModuleType | None:
    """The family's module, or None for a family this project has no components for."""
    path = FAMILIES.get(name)
    return importlib.import_module(path) if path else None


def endpoints(family: str, fields: Mapping[str, Any]) -> list[Endpoint]:
    """Where a connection goes; for an unknown family, its `dsn`, `url` or `host`/`port`."""
    module = family_module(family)
    if module is not None:
        found: list[Endpoint] = module.endpoints(fields)
        return found
    for key in ("dsn", "url"):
        url = url_endpoint(fields.get(key))
        if url is not None:
            return [url]
    host = fields.get("host")
    return [(str(host), port_of(fields.get("port")))] if host else []


def url_endpoint(value: Any) -> Endpoint | None:
    """(host, port) of a URL; the scheme's usual port when it names none."""
    if not isinstance(value, str) or "://" not in value:
        return None
    parts = urlsplit(value)
    if not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname, port or DEFAULT_PORTS.get(parts.scheme.lower())


def port_of(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default
