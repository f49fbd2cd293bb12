"""Connecting to MySQL/MariaDB, and turning driver errors into StepErrors at the boundary."""

from __future__ import annotations

import contextlib
import functools
import re
import socket
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from osiris.components.api import StepError

if TYPE_CHECKING:
    import ssl

    from pymysql.connections import Connection

# Server error numbers, grouped by the StepError code they become.
_CONSTRAINT = {1048, 1062, 1169, 1216, 1217, 1263, 1364, 1451, 1452, 1557, 3819, 4025}
_DATA = {1264, 1265, 1292, 1301, 1366, 1367, 1406, 1690, 3140}
_PERMISSION = {1044, 1142, 1143, 1227, 1370}
_SYNTAX = {1054, 1064, 1052, 1060, 1109, 1111, 1305, 1327}
_CX_ERROR = re.compile(r"ERROR (\d+) \(\w+\): (.*)", re.S)


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str
    database: str
    timeout: float = 30.0  # seconds to connect
    product: str = "MySQL"

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self) -> str:
        """The connectorx URL; it holds the password, so it never leaves this process."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return f"mysql://{auth}@{self.host}:{self.port}/{quote(self.database, safe='')}"

    def scrub(self, text: str) -> str:
        if self.password:
            for form in {self.password, quote(self.password, safe="")}:
                text = text.replace(form, "***")
        return text


def server(connection: dict[str, Any] | None, connect_timeout: float, component: str) -> Server:
    """The server `connection` (a step's resolved connection fields) names."""
    if not connection:
        family = component.split(".", maxsplit=1)[0]
        raise StepError(
            "config.invalid", f'this step needs a connection; set `connection: "@{family}.<alias>"`'
        )
    missing = [k for k in ("host", "user") if not connection.get(k)]
    if missing:
        raise StepError(
            "config.invalid",
            f"the MySQL connection has no {' or '.join(missing)}; "
            "add it to the connection in osiris_connections.yaml",
        )
    port = connection.get("port") or 3306
    try:
        port = int(port)
    except (TypeError, ValueError):
        raise StepError(
            "config.invalid", f"the MySQL connection's port '{port}' is not a number; fix `port`"
        ) from None
    return Server(
        host=str(connection["host"]),
        port=port,
        user=str(connection["user"]),
        password=str(connection.get("password") or ""),
        database=str(connection.get("database") or ""),
        timeout=connect_timeout,
    )


def split_table(table: str, default: str) -> tuple[str, str]:
    """(database, table) from `table` or `database.table`; database `default` when it names
    none."""
    database, _, name = table.rpartition(".")
    database = database or default
    if not database:
        raise StepError(
            "config.invalid",
            f"table '{table}' names no database; write `database.table` or set `database` in "
            "the connection",
        )
    return database, name


def quote_ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def connect(srv: Server, *, local_infile: bool = False) -> Connection:
    """An open PyMySQL connection (utf8mb4, autocommit off), or a StepError saying why not.

    PyMySQL's own timeout covers only the TCP connect; a server that accepts but never greets
    would hang the run, so a watchdog closes the socket when `srv.timeout` runs out.
    """
    import pymysql

    timeout = srv.timeout
    sock = _open_socket(srv, timeout)
    conn = _connection_class()(
        host=srv.host,
        port=srv.port,
        user=srv.user,
        password=srv.password,
        database=srv.database or None,
        charset="utf8mb4",
        autocommit=False,
        local_infile=local_infile,
        defer_connect=True,
    )
    watchdog = _Watchdog(sock, timeout)
    try:
        conn.connect(sock)
    except pymysql.MySQLError as exc:
        if watchdog.fired:
            raise _timed_out(srv, timeout) from exc
        raise translate(exc, srv) from exc
    finally:
        watchdog.cancel()
    return conn


@functools.cache
def _connection_class() -> type[Connection]:
    """PyMySQL's Connection, with one TLS context for all connections.

    Given no TLS options, PyMySQL uses TLS when the server offers it ("preferred": encrypted,
    not verified), and builds a new context for each connection, loading the system's CA store
    that it then does not use: about 10 ms of CPU holding the GIL, most of what a small table's
    copy costs, stalling every other step's thread meanwhile.
    """
    from pymysql.connections import Connection

    class _SharedTLS(Connection):
        def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
            if sslp:  # options of its own (none today): a context of its own
                return super()._create_ssl_ctx(sslp)
            return _preferred_tls()

    return _SharedTLS


@functools.cache
def _preferred_tls() -> ssl.SSLContext:
    """What PyMySQL's preferred mode verifies: nothing, so no CA store to load."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _Watchdog:
    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.fired = False
        self._sock = sock
        self._lock = threading.Lock()
        self._done = False
        self._timer = threading.Timer(timeout, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


def _open_socket(srv: Server, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((srv.host, srv.port), timeout)
    except socket.gaierror as exc:
        raise StepError(
            "connection.failed",
            f"cannot resolve MySQL host '{srv.host}' ({exc.strerror}); check `host` in the "
            "connection",
        ) from exc
    except TimeoutError as exc:
        raise _timed_out(srv, timeout) from exc
    except ConnectionRefusedError as exc:
        raise StepError(
            "connection.refused",
            f"MySQL at {srv.where} refused the connection; check that the server is running "
            "and `host`/`port` in the connection",
        ) from exc
    except OSError as exc:
        raise StepError(
            "connection.failed",
            f"cannot connect to MySQL at {srv.where}: {exc.strerror or exc}; check `host`/`port` "
            "in the connection and the network",
        ) from exc


def _timed_out(srv: Server, timeout: float) -> StepError:
    return StepError(
        "connection.timeout",
        f"MySQL at {srv.where} did not answer within {timeout:g}s; check `host`/`port`, the "
        "firewall and runner.network.allow",
    )


def error_parts(exc: BaseException) -> tuple[str, str, str]:
    """(server error number or "", one-line message, detail) of a PyMySQL or connectorx
    error; MySQL has no detail apart from the message, so that is always ""."""
    args: tuple[Any, ...] = exc.args
    if len(args) >= 2 and isinstance(args[0], int):
        return str(args[0]), " ".join(str(args[1]).split()), ""
    text = str(exc)
    match = _CX_ERROR.search(text)
    if match:
        return match.group(1), " ".join(match.group(2).rstrip(" }").split()), ""
    return "", " ".join(text.split()), ""


def translate(exc: BaseException, srv: Server, *, writing: bool = False) -> StepError:
    """The StepError for a PyMySQL or connectorx exception; never includes the password."""
    code, text, _ = error_parts(exc)
    number, text = int(code or 0), srv.scrub(text)
    if number == 1045:
        return StepError(
            "auth.failed",
            f"MySQL at {srv.where} rejected user '{srv.user}' (access denied); check `user` and "
            "the password variable of the connection",
        )
    if number == 1049:
        return StepError(
            "database.not_found",
            f"database '{srv.database}' does not exist on MySQL at {srv.where}; create it or "
            "fix `database` in the connection",
        )
    if number in (2002, 2003):
        if "timed out" in text:
            return StepError("connection.timeout", f"MySQL at {srv.where} did not answer: {text}")
        return StepError(
            "connection.refused", f"MySQL at {srv.where} refused the connection: {text}"
        )
    if number in (2006, 2013):
        return StepError(
            "connection.failed",
            f"lost the connection to MySQL at {srv.where} ({text}); check the server log and "
            "max_allowed_packet",
        )
    if number == 1146:
        return StepError("table.not_found", f"{text}; check `table` or the query")
    if number in _PERMISSION:
        return StepError(
            "permission.denied", f"{text}; grant user '{srv.user}' the needed privilege"
        )
    if number in _SYNTAX:
        return StepError("sql.error", f"{text}; fix the query, `columns` or `where`")
    if number in _CONSTRAINT:
        return StepError(
            "write.constraint_violation", f"{text}; fix the input rows or the table's constraints"
        )
    if number in _DATA and writing:
        return StepError("write.failed", f"{text}; the value does not fit the column's type")
    prefix = f"MySQL error {number}: " if number else "MySQL error: "
    return StepError("write.failed" if writing else "sql.error", prefix + text)
