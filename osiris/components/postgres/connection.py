"""The `postgres` connection family; see osiris.components.families."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osiris.components.families import Endpoint, port_of, url_endpoint


def endpoints(fields: Mapping[str, Any]) -> list[Endpoint]:
    dsn = fields.get("dsn")
    if isinstance(dsn, str) and dsn:
        found = url_endpoint(dsn)
        if found is not None:
            return [found]
        pairs = dict(part.split("=", 1) for part in dsn.split() if "=" in part)
        host = pairs.get("host", "localhost").strip("'")
        return [(host, port_of(pairs.get("port", "").strip("'"), 5432))]
    server = fields.get("host")
    return [(str(server), port_of(fields.get("port"), 5432))] if server else []


def check(fields: Mapping[str, Any], *, timeout: float, product: str = "postgres") -> str:
    """Connect with psycopg (what the writer uses) and ask for the server's version."""
    import psycopg

    from osiris.components.postgres._conn import connect_writer, server, translate

    srv = server(dict(fields), timeout, f"{product}.writer")
    conn = connect_writer(srv)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            row = cur.fetchone()
    except psycopg.Error as exc:
        raise translate(exc, srv) from None
    finally:
        conn.close()
    version = str(row[0]).split()[0] if row else "?"
    return f"{srv.product} {version} at {srv.where} as {srv.user}"
