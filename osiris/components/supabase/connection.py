"""The `supabase` connection family, and which channel a Supabase connection uses.

A connection as upstream Osiris writes it (fields canonical, see osiris.connections):

    url: https://<ref>.supabase.co     (or project_ref: <ref>)
    key: ${SUPABASE_SERVICE_ROLE_KEY}  (service_role_key / anon_key / key)
    dsn: ${SUPABASE_PG_DSN}            (optional: pg_dsn / sql_dsn / dsn, or host/port/user/
                                        password/database, or just the database password)

With database credentials the components speak the Postgres protocol to the project's
database (fast: binary COPY). With only url and key they speak PostgREST, Supabase's REST API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from osiris.components.api import StepError
from osiris.components.families import Endpoint, url_endpoint

# fields that make a database channel; the password alone means db.<ref>.supabase.co
_DATABASE = ("dsn", "host", "password")


def has_database(fields: Mapping[str, Any]) -> bool:
    return any(fields.get(name) not in (None, "") for name in _DATABASE)


def project_ref(fields: Mapping[str, Any]) -> str | None:
    ref = fields.get("project_ref")
    if ref:
        return str(ref)
    host = urlsplit(str(fields.get("url") or "")).hostname or ""
    return host.split(".")[0] if host.endswith((".supabase.co", ".supabase.com")) else None


def database_fields(fields: Mapping[str, Any]) -> dict[str, Any] | None:
    """The connection as postgres fields, or None when it has no database credentials."""
    if not has_database(fields):
        return None
    found = {k: v for k, v in fields.items() if v not in (None, "")}
    if "dsn" in found or "host" in found:
        return found
    ref = project_ref(fields)
    if ref is None:
        raise StepError(
            "config.invalid",
            "the Supabase connection has a password but no host; add `host` (or `pg_dsn`), or "
            "`url: https://<project_ref>.supabase.co`",
        )
    # the project's direct database host, as the Supabase dashboard shows it
    defaults = {"host": f"db.{ref}.supabase.co", "user": "postgres", "database": "postgres"}
    return {**defaults, "sslmode": "require", **found}


def rest_target(fields: Mapping[str, Any]) -> tuple[str, str]:
    """(base URL of the project, API key) for PostgREST; StepError naming what is missing."""
    url = str(fields.get("url") or "").rstrip("/")
    if not url and fields.get("project_ref"):
        url = f"https://{fields['project_ref']}.supabase.co"
    key = str(fields.get("key") or "")
    missing = [name for name, value in (("url", url), ("service_role_key", key)) if not value]
    if missing:
        raise StepError(
            "config.invalid",
            f"the Supabase connection has no {' or '.join(missing)}; add it to the connection "
            "in osiris_connections.yaml (or database credentials such as `pg_dsn`)",
        )
    return url, key


def endpoints(fields: Mapping[str, Any]) -> list[Endpoint]:
    from osiris.components.postgres import connection as postgres

    database = database_fields(fields) if has_database(fields) else None
    if database is not None:
        return postgres.endpoints(database)
    url = fields.get("url") or (
        f"https://{fields['project_ref']}.supabase.co" if fields.get("project_ref") else None
    )
    found = url_endpoint(url)
    return [found] if found is not None else []


def check(fields: Mapping[str, Any], *, timeout: float) -> str:
    database = database_fields(fields)
    if database is not None:
        from osiris.components.postgres import connection as postgres

        return postgres.check(database, timeout=timeout, product="supabase")
    from osiris.components.supabase._rest import Client, RestError, translate

    url, key = rest_target(fields)
    with Client(url, key, timeout=timeout, retries=0) as client:
        try:
            client.ping()
        except RestError as exc:
            raise translate(exc, "(the API)") from None
    return f"Supabase REST API at {url}"
