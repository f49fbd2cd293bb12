"""The `mysql` connection family (MySQL and MariaDB); see osiris.components.families."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osiris.components.families import Endpoint, port_of


def endpoints(fields: Mapping[str, Any]) -> list[Endpoint]:
    host = fields.get("host")
    return [(str(host), port_of(fields.get("port"), 3306))] if host else []


def check(fields: Mapping[str, Any], *, timeout: float) -> str:
    from osiris.components.mysql._conn import connect, server, translate

    srv = server(dict(fields), timeout, "mysql.extractor")
    conn = connect(srv)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            row = cur.fetchone()
    except Exception as exc:
        raise translate(exc, srv) from None
    finally:
        conn.close()
    version = str(row[0]) if row else "?"
    product = "MariaDB" if "mariadb" in version.lower() else "MySQL"
    return f"{product} {version.split('-')[0]} at {srv.where} as {srv.user}"
