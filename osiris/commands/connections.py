"""`osiris connections list` and `osiris connections doctor`."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from osiris.errors import UsageError

if TYPE_CHECKING:
    from osiris.config import LoadedConfig
    from osiris.connections import Connection, ConnectionsFile

_SUMMARY_FIELDS = ("url", "host", "port", "database", "user", "username", "path", "base_dir")


def _load(loaded: LoadedConfig) -> ConnectionsFile:
    from osiris.connections import CONNECTIONS_FILE, load_connections

    explicit = loaded.get("connections_file")
    path = Path(explicit) if explicit else Path.cwd() / CONNECTIONS_FILE
    if not path.is_file():
        raise UsageError(
            f"no connections file at {path}",
            hint=f"create {CONNECTIONS_FILE} here, or pass --connections FILE",
        )
    return load_connections(path)


def _secret_fields(family: str) -> set[str]:
    """Fields any component of the family treats as secret (shown as their template only)."""
    from osiris.components import get_registry

    found = {"password", "dsn", "key"}
    for component in get_registry().components.values():
        if component.spec.connection_family == family:
            found.update(component.spec.connection_secret_fields())
    return found


def _env_status(conn: Connection) -> dict[str, bool]:
    from osiris.templates import env_refs

    return {r.name: r.name in os.environ for r in env_refs(conn.fields)}


def _shown(conn: Connection) -> dict[str, Any]:
    """The fields of a connection fit to print: secret fields only as their ${VAR} template."""
    from osiris.templates import whole_ref

    secret = _secret_fields(conn.family)
    shown: dict[str, Any] = {}
    for name, value in conn.fields.items():
        if name in secret:
            ref = whole_ref(value) if isinstance(value, str) else None
            shown[name] = value if ref is not None and ref.kind == "env" else "***"
        else:
            shown[name] = value
    return shown


def connections_list(loaded: LoadedConfig, *, as_json: bool) -> int:
    conns = _load(loaded)
    rows: list[dict[str, Any]] = []
    for family in sorted(conns.families):
        for alias, conn in conns.families[family].items():
            default, _, _ = conns.lookup(f"@{family}")
            rows.append(
                {
                    "ref": conn.ref,
                    "family": family,
                    "alias": alias,
                    "default": default is conn,
                    "fields": _shown(conn),
                    "env": _env_status(conn),
                }
            )
    if as_json:
        print(json.dumps({"file": str(conns.path), "connections": rows}, indent=2))
        return 0
    if not rows:
        print(f"no connections in {conns.path}")
        return 0
    print(f"connections in {conns.path}:")
    for row in rows:
        fields = row["fields"]
        summary = ", ".join(f"{k}={fields[k]}" for k in _SUMMARY_FIELDS if k in fields)
        mark = " (default)" if row["default"] else ""
        print(f"  {row['ref']}{mark}  {summary}")
        for name, present in sorted(row["env"].items()):
            print(f"      {name}: {'set' if present else 'NOT SET'}")
    return 0


def connections_doctor(
    loaded: LoadedConfig, *, family: str | None, alias: str | None, as_json: bool
) -> int:
    """Connect to each connection (or those `family`/`alias` pick): one line each, exit 1 if any
    fails, with the error codes a step would report."""
    conns = _load(loaded)
    chosen = [
        conn
        for fam in sorted(conns.families)
        if family in (None, fam)
        for name, conn in conns.families[fam].items()
        if alias in (None, name)
    ]
    if not chosen:
        picked = [f"family {family}" if family else "", f"alias {alias}" if alias else ""]
        what = " and ".join(p for p in picked if p)
        raise UsageError(
            f"no connection matches {what} in {conns.path}",
            hint="run `osiris connections list` to see them",
        )
    timeout = float(loaded.get("runner.network.connect_timeout_seconds"))
    allow = list(loaded.get("runner.network.allow"))
    results = [_check(conn, os.environ, timeout=timeout, allow=allow) for conn in chosen]
    if as_json:
        print(json.dumps({"file": str(conns.path), "results": results}, indent=2))
    else:
        width = max(len(r["ref"]) for r in results)
        for r in results:
            detail = r["message"] if r["status"] != "failed" else f"{r['code']}: {r['message']}"
            took = f" ({r['ms']} ms)" if r.get("ms") is not None else ""
            print(f"{r['status']:<7} {r['ref']:<{width}}  {detail}{took}")
    return 1 if any(r["status"] == "failed" for r in results) else 0


def _check(
    conn: Connection, environ: Mapping[str, str], *, timeout: float, allow: list[str]
) -> dict[str, Any]:
    from osiris.components.api import StepError
    from osiris.components.families import endpoints, family_module
    from osiris.connections import resolve_connection
    from osiris.errors import ConnectionsError
    from osiris.network import is_allowed
    from osiris.session.masking import Masker

    entry = {"family": conn.family, "alias": conn.alias, "fields": conn.fields}
    result: dict[str, Any] = {"ref": conn.ref, "status": "ok", "ms": None}
    module = family_module(conn.family)
    if module is None:
        return {**result, "status": "skipped", "message": f"no check for family {conn.family}"}
    try:
        fields = resolve_connection(entry, environ)
    except ConnectionsError as exc:
        return {**result, "status": "failed", "code": "config.invalid", "message": exc.message}
    masker = Masker(str(v) for k, v in fields.items() if k in _secret_fields(conn.family))
    for host, port in endpoints(conn.family, fields):
        if not is_allowed(allow, host, port):
            where = f"{host}:{port}" if port else host
            return {
                **result,
                "status": "failed",
                "code": "network.denied",
                "message": f"{where} is not allowed by runner.network.allow",
            }
    start = time.monotonic()
    try:
        message = module.check(fields, timeout=timeout)
    except StepError as exc:
        result.update(status="failed", code=exc.code, message=masker.mask(exc.message))
    except Exception as exc:  # a driver's error the family did not translate: still one line
        result.update(status="failed", code="connection.failed", message=masker.mask(str(exc)))
    else:
        result["message"] = masker.mask(message)
    result["ms"] = round((time.monotonic() - start) * 1000)
    return result
