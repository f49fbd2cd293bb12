"""The envd `filesystem.Filesystem` service and the `/files` upload/download endpoint."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from e2b.envd.filesystem import filesystem_connect
from e2b.envd.filesystem import filesystem_pb as F
from protobuf.wkt import Timestamp

from testing.e2b_standin.records import UploadRecord
from testing.e2b_standin.sandbox import USER, Sandbox
from testing.e2b_standin.web import Request, StartResponse, api_error, json_response, respond


def _entry(sandbox: Sandbox, host: Path) -> F.EntryInfo:
    st = host.lstat()
    is_link = stat.S_ISLNK(st.st_mode)
    target = host.stat() if is_link and host.exists() else st
    kind = F.FileType.DIRECTORY if stat.S_ISDIR(target.st_mode) else F.FileType.FILE
    entry = F.EntryInfo(
        name=host.name,
        type=kind,
        path=sandbox.to_sandbox(host),
        size=target.st_size,
        mode=stat.S_IMODE(target.st_mode),
        permissions=stat.filemode(target.st_mode),
        owner=USER,
        group=USER,
        modified_time=Timestamp.from_datetime(datetime.fromtimestamp(target.st_mtime, UTC)),
        is_symlink=is_link,
    )
    if is_link:
        entry.symlink_target = os.readlink(host)
    return entry


def _missing(sandbox: Sandbox, path: str) -> ConnectError:
    return ConnectError(Code.NOT_FOUND, f"path '{sandbox.sandbox_path(path)}' does not exist")


class FilesystemService(filesystem_connect.FilesystemSync):
    """Inherits UNIMPLEMENTED stubs for the watcher RPCs, which the stand-in does not serve."""

    def __init__(self, lookup: Callable[[RequestContext[Any, Any]], Sandbox]) -> None:
        self._lookup = lookup

    def stat(self, request: F.StatRequest, ctx: RequestContext[Any, Any]) -> F.StatResponse:
        sandbox = self._lookup(ctx)
        host = sandbox.host_path(request.path)
        if not host.exists() and not host.is_symlink():
            raise _missing(sandbox, request.path)
        return F.StatResponse(entry=_entry(sandbox, host))

    def make_dir(
        self, request: F.MakeDirRequest, ctx: RequestContext[Any, Any]
    ) -> F.MakeDirResponse:
        sandbox = self._lookup(ctx)
        host = sandbox.host_path(request.path)
        if host.is_dir():
            raise ConnectError(
                Code.ALREADY_EXISTS,
                f"directory '{sandbox.sandbox_path(request.path)}' already exists",
            )
        if host.exists():
            raise ConnectError(
                Code.INVALID_ARGUMENT, f"path '{sandbox.sandbox_path(request.path)}' is a file"
            )
        host.mkdir(parents=True)
        return F.MakeDirResponse(entry=_entry(sandbox, host))

    def move(self, request: F.MoveRequest, ctx: RequestContext[Any, Any]) -> F.MoveResponse:
        sandbox = self._lookup(ctx)
        source, destination = (
            sandbox.host_path(request.source),
            sandbox.host_path(request.destination),
        )
        if not source.exists():
            raise _missing(sandbox, request.source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        source.rename(destination)
        return F.MoveResponse(entry=_entry(sandbox, destination))

    def list_dir(
        self, request: F.ListDirRequest, ctx: RequestContext[Any, Any]
    ) -> F.ListDirResponse:
        sandbox = self._lookup(ctx)
        host = sandbox.host_path(request.path)
        if not host.exists():
            raise _missing(sandbox, request.path)
        if not host.is_dir():
            raise ConnectError(
                Code.INVALID_ARGUMENT,
                f"path '{sandbox.sandbox_path(request.path)}' is not a directory",
            )
        entries: list[F.EntryInfo] = []
        _walk(sandbox, host, max(1, request.depth), entries)
        return F.ListDirResponse(entries=entries)

    def remove(self, request: F.RemoveRequest, ctx: RequestContext[Any, Any]) -> F.RemoveResponse:
        sandbox = self._lookup(ctx)
        host = sandbox.host_path(request.path)
        if host.is_dir() and not host.is_symlink():
            shutil.rmtree(host)
        elif host.exists() or host.is_symlink():
            host.unlink()
        else:
            raise _missing(sandbox, request.path)
        return F.RemoveResponse()


def _walk(sandbox: Sandbox, directory: Path, depth: int, out: list[F.EntryInfo]) -> None:
    for child in sorted(directory.iterdir()):
        out.append(_entry(sandbox, child))
        if depth > 1 and child.is_dir() and not child.is_symlink():
            _walk(sandbox, child, depth - 1, out)


# -- /files -------------------------------------------------------------------------------------


def files_endpoint(
    sandbox: Sandbox, request: Request, start_response: StartResponse
) -> list[bytes]:
    if request.method == "GET":
        return _download(sandbox, request, start_response)
    if request.method == "POST":
        return _upload(sandbox, request, start_response)
    return api_error(start_response, 405, f"method {request.method} is not allowed on /files")


def _download(sandbox: Sandbox, request: Request, start_response: StartResponse) -> list[bytes]:
    path = request.query("path") or ""
    host = sandbox.host_path(path)
    if host.is_dir():
        return api_error(start_response, 400, f"path '{sandbox.sandbox_path(path)}' is a directory")
    if not host.is_file():
        return api_error(start_response, 404, f"path '{sandbox.sandbox_path(path)}' does not exist")
    return respond(start_response, 200, host.read_bytes(), "application/octet-stream")


def _upload(sandbox: Sandbox, request: Request, start_response: StartResponse) -> list[bytes]:
    content_type = request.header("Content-Type")
    body = request.body()
    if content_type.startswith("multipart/form-data"):
        files = _multipart_files(content_type, body)
        query_path = request.query("path")
        if query_path is not None and len(files) == 1:
            files = [(query_path, files[0][1])]
    else:
        query_path = request.query("path")
        if query_path is None:
            return api_error(start_response, 400, "the 'path' query parameter is required")
        if request.header("Content-Encoding").lower() == "gzip":
            body = gzip.decompress(body)
        files = [(query_path, body)]
    if not files:
        return api_error(start_response, 400, "no file in the request")
    if sandbox.faults.upload_delay:
        time.sleep(sandbox.faults.upload_delay)
    metadata = {
        key[len("HTTP_X_METADATA_") :].lower().replace("_", "-"): str(value)
        for key, value in request.environ.items()
        if key.startswith("HTTP_X_METADATA_")
    }
    written = []
    for path, data in files:
        host = sandbox.host_path(path)
        if host.is_dir():
            return api_error(
                start_response, 400, f"path '{sandbox.sandbox_path(path)}' is a directory"
            )
        host.parent.mkdir(parents=True, exist_ok=True)
        host.write_bytes(data)
        sandbox.record.uploads.append(UploadRecord(path=sandbox.sandbox_path(path), size=len(data)))
        info: dict[str, Any] = {
            "name": host.name,
            "type": "file",
            "path": sandbox.sandbox_path(path),
        }
        if metadata:
            info["metadata"] = metadata
        written.append(info)
    return json_response(start_response, 200, written)


def _multipart_files(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """The `file` parts of a multipart body as (filename, data); filename is the sandbox path."""
    boundary = ""
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary":
            boundary = value.strip('"')
    files = []
    for part in body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        disposition = ""
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-disposition":
                disposition = value
        params = _disposition_params(disposition)
        if params.get("name") == "file" and "filename" in params:
            files.append((params["filename"], data.removesuffix(b"\r\n")))
    return files


_PARAM = re.compile(r';\s*([\w*-]+)=(?:"([^"]*)"|([^;]*))')
_FORM_ESCAPE = re.compile(r"%(0[0-9A-F]|1[0-9A-F]|22)")


def _disposition_params(disposition: str) -> dict[str, str]:
    # httpx writes HTML5-style form params: `"` as %22, `\` doubled, control chars as %XX.
    params = {}
    for match in _PARAM.finditer(disposition):
        value = match.group(2) if match.group(2) is not None else match.group(3).strip()
        value = value.replace("\\\\", "\\")
        params[match.group(1).lower()] = _FORM_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), value)
    return params
