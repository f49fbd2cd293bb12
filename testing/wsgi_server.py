"""A small threaded HTTP/1.1 server for WSGI apps, with streamed (chunked) responses; the
stand-ins in testing/ (E2B, PostgREST) run on it.

The stdlib `wsgiref` server speaks HTTP/1.0 and cannot read chunked request bodies, which is how
the E2B SDK sends `Process/Start`; third-party servers would be a new dependency. This one covers
what the stand-ins need: keep-alive, chunked bodies both ways, flushing each body chunk as the
app yields it, HEAD (the app sends no body), repeated header lines joined with commas, and
cutting a connection on purpose (`DropConnection`) for fault tests.
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class DropConnection(BaseException):
    """Raised inside a response body to close the TCP connection without finishing it.

    A BaseException so that connectrpc's `except Exception` handlers cannot turn it into a
    clean end-of-stream message: the point is an abrupt cut, like a lost network.
    """


class _BodyReader(io.RawIOBase):
    """`wsgi.input`: a request body framed by Content-Length or by chunked encoding."""

    def __init__(self, rfile: Any, length: int | None, chunked: bool) -> None:
        self._rfile = rfile
        self._left = length or 0
        self._chunked = chunked
        self._chunk_left = 0
        self.finished = not chunked and not length

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _read(self, size: int) -> bytes:
        if self.finished or size == 0:
            return b""
        if not self._chunked:
            data = self._rfile.read(min(size, self._left))
            self._left -= len(data)
            if not data or self._left == 0:
                self.finished = True
            return bytes(data)
        if self._chunk_left == 0:
            line = self._rfile.readline(65537)
            self._chunk_left = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if self._chunk_left == 0:
                while self._rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self.finished = True
                return b""
        data = self._rfile.read(min(size, self._chunk_left))
        self._chunk_left -= len(data)
        if self._chunk_left == 0:
            self._rfile.readline(3)
        return bytes(data)

    def drain(self) -> None:
        while self._read(65536):
            pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: WSGIServer
    _started = False

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self._serve()

    # for HEAD the app answers with headers only, as WSGI leaves to it
    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    def _environ(self, body: _BodyReader) -> dict[str, Any]:
        url = urlsplit(self.path)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(url.path),
            "QUERY_STRING": url.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server.server_address[1]),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BufferedReader(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for key in {k.lower() for k in self.headers}:
            name = key.upper().replace("-", "_")
            # a header given on several lines (Prefer, say) is one comma-joined value (RFC 9110)
            value = ", ".join(self.headers.get_all(key) or [])
            if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                environ[name] = value
            elif name != "TRANSFER_ENCODING":
                environ["HTTP_" + name] = value
        return environ

    def _serve(self) -> None:
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        length = int(self.headers.get("Content-Length") or 0)
        body = _BodyReader(self.rfile, length, chunked)
        status_headers: list[Any] = []
        self._started = False

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            status_headers[:] = [status, headers]

        try:
            result = self.server.app(self._environ(body), start_response)
            self._send(result, status_headers, body)
        except DropConnection:
            self._cut()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception:
            log.exception("stand-in request %s %s failed", self.command, self.path)
            self.close_connection = True
            if not self._started:
                with contextlib.suppress(OSError):
                    self.send_error(500, "the stand-in failed; see the test log")

    def _send(self, result: Iterable[bytes], status_headers: list[Any], body: _BodyReader) -> None:
        try:
            if isinstance(result, list | tuple):
                chunks: Iterable[bytes] = result
                total: int | None = sum(len(c) for c in result)
            else:
                chunks, total = result, None
            for chunk in chunks:
                if not self._started:
                    self._start(status_headers, total, body)
                if chunk:
                    self._write(chunk, framed=total is None)
            if not self._started:
                self._start(status_headers, total, body)
            if total is None:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _start(self, status_headers: list[Any], total: int | None, body: _BodyReader) -> None:
        # Answering before the whole request body is read (an early 502 or 401) makes the SDK's
        # HTTP client report a broken connection instead of the answer now and then.
        body.drain()
        status, headers = status_headers
        self._started = True
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        names = {name.lower() for name, _ in headers}
        for name, value in headers:
            self.send_header(name, value)
        if total is not None and "content-length" not in names:
            self.send_header("Content-Length", str(total))
        if total is None:
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def _write(self, chunk: bytes, *, framed: bool) -> None:
        if framed:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        else:
            self.wfile.write(chunk)
        self.wfile.flush()

    def _cut(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)


class WSGIServer(ThreadingHTTPServer):
    """Serves `app` on 127.0.0.1 at a free port, in a background thread, until `close()`."""

    daemon_threads = True

    def __init__(self, app: WSGIApp) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join()
        # Keep-alive connections would otherwise park their threads until the client's pool
        # gives up on them (300 s in the SDK).
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
