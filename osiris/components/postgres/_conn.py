"""Connecting to PostgreSQL (and Supabase's Postgres), and translating driver errors.

The extractor reads through ADBC (Arrow batches straight from binary COPY); the writer talks
through psycopg (binary COPY of rows that pgpq encodes in `_load`, DDL, the transaction).

The connection comes from discrete fields (host, port, user, password, database, sslmode), or
from `dsn` (a libpq URI or key=value string); a Supabase connection is turned into these
fields first (osiris.components.supabase.connection). The conninfo string holds the password, so it
never appears in a message; messages name host:port and the user instead.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from osiris.components.api import StepError

if TYPE_CHECKING:
    import psycopg
    from adbc_driver_manager.dbapi import Connection

_AUTH_TEXT = (
    "password authentication failed",
    "no password supplied",
    "is not permitted to log in",
    "pg_hba.conf",
    "authentication failed",
)


@dataclass(frozen=True)
class Server:
    conninfo: str
    where: str
    user: str
    database: str
    schema: str
    product: str
    secrets: tuple[str, ...] = ()

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret:
                text = text.replace(secret, "***")
        return text


def server(connection: dict[str, Any] | None, connect_timeout: float, component: str) -> Server:
    product = "Supabase" if component.startswith("supabase.") else "PostgreSQL"
    if not connection:
        family = component.split(".", maxsplit=1)[0]
        raise StepError(
            "config.invalid", f'this step needs a connection; set `connection: "@{family}.<alias>"`'
        )
    fields = {k: str(v) for k, v in connection.items() if v is not None and v != ""}
    # libpq takes whole seconds and treats anything below 2 as 2.
    timeout = str(max(2, math.ceil(connect_timeout)))
    schema = fields.get("schema", "public")
    if "dsn" in fields:
        return _from_dsn(fields, timeout, schema, product)
    missing = [k for k in ("host", "user") if k not in fields]
    if missing:
        raise StepError(
            "config.invalid",
            f"the {product} connection has no {' or '.join(missing)}; add it (or `dsn`) to the "
            "connection in osiris_connections.yaml",
        )
    params = {
        "host": fields["host"],
        "port": fields.get("port", "5432"),
        "user": fields["user"],
        "dbname": fields.get("database", fields["user"]),
        "connect_timeout": timeout,
        "application_name": "osiris",
    }
    for key in ("password", "sslmode"):
        if key in fields:
            params[key] = fields[key]
    if schema != "public":
        params["options"] = _search_path(schema)
    conninfo = " ".join(f"{k}={_quote(v)}" for k, v in params.items())
    return Server(
        conninfo=conninfo,
        where=f"{params['host']}:{params['port']}",
        user=params["user"],
        database=params["dbname"],
        schema=schema,
        product=product,
        secrets=(fields.get("password", ""),),
    )


def _from_dsn(fields: dict[str, str], timeout: str, schema: str, product: str) -> Server:
    dsn = fields["dsn"]
    if re.match(r"^postgres(ql)?://", dsn):
        parts = urlsplit(dsn)
        query = dict(parse_qsl(parts.query))
        query.setdefault("connect_timeout", timeout)
        query.setdefault("application_name", "osiris")
        if schema != "public":
            query.setdefault("options", _search_path(schema))
        conninfo = urlunsplit(parts._replace(query=urlencode(query)))
        host = parts.hostname or query.get("host", "localhost")
        where = f"{host}:{parts.port or query.get('port', 5432)}"
        user = unquote(parts.username or query.get("user", ""))
        database = unquote(parts.path.lstrip("/")) or query.get("dbname", user)
        secrets: tuple[str, ...] = (dsn, parts.password or "", unquote(parts.password or ""))
    else:
        kv = dict(re.findall(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn))
        values = {k: v.strip("'") for k, v in kv.items()}
        conninfo = dsn if "connect_timeout" in values else f"{dsn} connect_timeout={timeout}"
        if schema != "public" and "options" not in values:
            conninfo += f" options={_quote(_search_path(schema))}"
        where = f"{values.get('host', 'localhost')}:{values.get('port', '5432')}"
        user = values.get("user", "")
        database = values.get("dbname", user)
        secrets = (dsn, values.get("password", ""))
    secrets += (fields.get("password", ""),)
    return Server(conninfo, where, user, database, schema, product, secrets)


def _search_path(schema: str) -> str:
    """libpq `options` putting `schema` first on the search path, so queries find its tables."""
    ident = quote_ident(schema).replace("\\", "\\\\").replace(" ", "\\ ")
    return f"-csearch_path={ident},public"


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "'" + str(value).replace("'", "''") + "'"
    return repr(value)


def connect(srv: Server) -> Connection:
    """An open ADBC connection (autocommit off), or a StepError saying why not."""
    import adbc_driver_postgresql.dbapi as pg

    try:
        return pg.connect(srv.conninfo)
    except Exception as exc:
        # `from None`: the driver's text is not guaranteed free of the conninfo.
        raise translate(exc, srv) from None


def connect_writer(srv: Server) -> psycopg.Connection[Any]:
    """An open psycopg connection (autocommit off, `$1` placeholders), or a StepError."""
    import psycopg

    try:
        return psycopg.connect(srv.conninfo, cursor_factory=psycopg.RawCursor)
    except psycopg.Error as exc:
        if exc.sqlstate:
            raise translate(exc, srv) from None
        # libpq's text; the conninfo (and with it the password) is not part of it
        raise _connect_error(" ".join(srv.scrub(str(exc)).split()), srv) from None


def split_table(table: str, default: str) -> tuple[str, str]:
    """(schema, table) from `table` or `schema.table`; schema `default` when it names none."""
    schema, _, name = table.rpartition(".")
    return schema or default, name


def error_parts(exc: BaseException) -> tuple[str, str, str]:
    """(SQLSTATE or "", primary message, detail) of an ADBC or psycopg PostgreSQL error."""
    text = str(exc)
    state = getattr(exc, "sqlstate", None) or ""
    diag = getattr(exc, "diag", None)  # psycopg has the server's fields one by one
    if diag is not None and diag.message_primary:
        message, detail, context = diag.message_primary, diag.message_detail or "", diag.context
    else:
        found = re.search(r"(?:ERROR|FATAL):\s+(.*)", text)
        if found:
            message = found.group(1)
        elif "failed:" in text:
            message = text.split("failed:", 1)[1]
        else:
            message = text.split(": ", 1)[-1]
        details = re.search(r"DETAIL:\s+(.*)", text)
        detail, context = (details.group(1) if details else ""), text
    column = re.search(r"COPY \S+, line \d+, column ([^:\n]+)", context or "")
    if column and "column" not in message:
        message += f" (column {column.group(1).strip()})"
    extra = detail if state == "23505" else ""
    return state, " ".join(message.split()), " ".join(extra.split())


def translate(exc: BaseException, srv: Server, *, writing: bool = False) -> StepError:
    """The StepError for a driver's PostgreSQL exception; never includes the password."""
    state, message, detail = error_parts(exc)
    message, detail = srv.scrub(message), srv.scrub(detail)
    text = str(exc)
    name = srv.product
    if not state and "Failed to connect" in text:
        return _connect_error(message, srv)
    if state.startswith("28"):
        return StepError(
            "auth.failed", f"{name} at {srv.where} rejected user '{srv.user}': {message}"
        )
    if state == "3D000":
        return _connect_error(message, srv)
    if state in ("42P01", "3F000"):
        return StepError("table.not_found", f"{message}; check `table` (or the query) and `schema`")
    if state == "42501":
        return StepError(
            "permission.denied", f"{message}; grant user '{srv.user}' the needed privilege"
        )
    if state.startswith("23") or state == "21000":
        full = f"{message}. {detail}" if detail else message
        return StepError(
            "write.constraint_violation", f"{full}; fix the input rows or the table's constraints"
        )
    if state.startswith("42"):
        return StepError("sql.error", f"{message}; fix the query, `columns` or `where`")
    if state.startswith("08"):
        return StepError(
            "connection.failed", f"lost the connection to {name} at {srv.where}: {message}"
        )
    prefix = f"{name} error {state}: " if state else f"{name} error: "
    return StepError("write.failed" if writing else "sql.error", prefix + message)


def _connect_error(message: str, srv: Server) -> StepError:
    name = srv.product
    lowered = message.lower()
    if "connection refused" in lowered:
        return StepError(
            "connection.refused",
            f"{name} at {srv.where} refused the connection; check that the server is running "
            "and `host`/`port` in the connection",
        )
    if "timeout expired" in lowered or "timed out" in lowered:
        return StepError(
            "connection.timeout",
            f"{name} at {srv.where} did not answer in time; check `host`/`port`, the firewall "
            "and runner.network.allow",
        )
    if any(t in lowered for t in _AUTH_TEXT) or re.search(r'role ".*" does not exist', message):
        return StepError(
            "auth.failed",
            f"{name} at {srv.where} rejected user '{srv.user}' ({message}); check `user` and "
            "the password variable of the connection",
        )
    if re.search(r'database ".*" does not exist', message):
        return StepError(
            "database.not_found",
            f"database '{srv.database}' does not exist on {name} at {srv.where}; create it or "
            "fix `database` in the connection",
        )
    if "could not translate host name" in lowered:
        return StepError(
            "connection.failed",
            f"cannot resolve the {name} host in {srv.where}; check `host` in the connection",
        )
    return StepError("connection.failed", f"cannot connect to {name} at {srv.where}: {message}")
