"""A stand-in for GitHub's results service: the Twirp ArtifactService over real HTTP.

It speaks what `@actions/artifact` speaks (docs: github-actions-protocol.md sections 3 and 5.3):
snake_case JSON, int64 as strings, Twirp error bodies. Upload URLs are SAS URLs into a running
Azurite, so a client writes real Azure block blobs. Tokens are unsigned JWTs from
`mint_runtime_token`; only tokens this stand-in issued are accepted, and the backend ids in a
request must be those of the token's `Actions.Results` scope.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from testing.gh_standin.azurite import AzuriteBlob, request

PREFIX = "/twirp/github.actions.results.api.v1.ArtifactService/"
METHODS = (
    "CreateArtifact",
    "FinalizeArtifact",
    "ListArtifacts",
    "GetSignedArtifactURL",
    "DeleteArtifact",
)
CONTAINER = "actions-results"
_STATUS = {
    "invalid_argument": 400,
    "malformed": 400,
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "failed_precondition": 412,
    "resource_exhausted": 429,
    "internal": 500,
    "unknown": 500,
    "unimplemented": 501,
    "unavailable": 503,
}
_CODE = {status: code for code, status in reversed(_STATUS.items())}


def mint_runtime_token(run_id: str, job_id: str, *, scp: str | None = None) -> str:
    """An unsigned (`alg: none`) JWT shaped like ACTIONS_RUNTIME_TOKEN."""

    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    if scp is None:
        scp = f"Actions.GenericRead:00000000 Actions.Results:{run_id}:{job_id}"
    claims = {"scp": scp, "iss": "osiris-gh-standin", "exp": int(time.time()) + 3600}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _backend_ids(token: str) -> tuple[str, str] | None:
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    for scope in str(claims.get("scp", "")).split(" "):
        parts = scope.split(":")
        if parts[0] == "Actions.Results" and len(parts) == 3:
            return parts[1], parts[2]
    return None


def _now() -> str:
    at = datetime.now(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass
class Artifact:
    """One artifact as the service stores it; `database_id` is set by FinalizeArtifact."""

    run_id: str
    job_id: str
    name: str
    blob: str
    version: int
    created_at: str
    expires_at: str | None = None
    mime_type: str | None = None
    database_id: int | None = None
    size: int | None = None
    digest: str | None = None  # "sha256:<hex>" as the client sent it
    blob_size: int | None = None  # measured in Azurite at finalize time
    blob_sha256: str | None = None
    blob_content_type: str | None = None
    upload_url: str = ""  # the SAS URL CreateArtifact handed out


@dataclass
class _Fault:
    status: int
    code: str
    msg: str
    times: int | None


class _TwirpError(Exception):
    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code, self.msg = code, msg


@dataclass
class ResultsStandin:
    """The results service on 127.0.0.1 for a `with` block, backed by a running Azurite.

    `environ()` gives the variables a container action step gets. `fail()` injects faults,
    `attempts()` counts requests per method (faulted ones included) and `calls` keeps every
    (method, body) received. `upload_permissions` lets a test hand out a SAS that cannot write.
    """

    blob: AzuriteBlob
    upload_permissions: str = "cw"
    run_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    job_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    artifacts: list[Artifact] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.token = mint_runtime_token(self.run_id, self.job_id)
        self._tokens = {self.token}
        self._faults: dict[str, list[_Fault]] = {}
        self._lock = threading.Lock()
        self._next_id = 1000
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "use the stand-in in a `with` block"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def environ(self, **extra: str) -> dict[str, str]:
        return {"ACTIONS_RUNTIME_TOKEN": self.token, "ACTIONS_RESULTS_URL": self.url, **extra}

    def issue_token(self, run_id: str | None = None, job_id: str | None = None) -> str:
        """Accept one more token, e.g. for another job of the same run."""
        token = mint_runtime_token(run_id or self.run_id, job_id or str(uuid.uuid4()))
        self._tokens.add(token)
        return token

    def fail(
        self,
        method: str,
        status: int = 503,
        *,
        times: int | None = None,
        code: str | None = None,
        msg: str | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` (all of them if None) with a Twirp error."""
        code = code or _CODE.get(status, "unknown")
        fault = _Fault(status, code, msg or f"injected {code}", times)
        self._faults.setdefault(method, []).append(fault)

    def attempts(self, method: str) -> int:
        return sum(1 for name, _ in self.calls if name == method)

    def find(self, name: str) -> Artifact | None:
        return next((a for a in self.artifacts if a.name == name), None)

    def committed_blocks(self, name: str) -> list[int]:
        """The sizes of the committed blocks of an artifact's blob, read from Azurite."""
        url = self.blob.blob_url(CONTAINER, self._by_name(name).blob, "r")
        status, _, data = request("GET", url + "&comp=blocklist&blocklisttype=committed")
        assert status == 200, data
        return [int(size) for size in re.findall(rb"<Size>(\d+)</Size>", data)]

    def _by_name(self, name: str) -> Artifact:
        found = self.find(name)
        assert found is not None, f"no artifact {name!r}"
        return found

    def __enter__(self) -> ResultsStandin:
        self.blob.create_container(CONTAINER)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (once per test) quick.
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def handle(self, path: str, auth: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        """One HTTP POST: (status, JSON answer)."""
        try:
            method = path.removeprefix(PREFIX)
            if not path.startswith(PREFIX) or method not in METHODS:
                raise _TwirpError("bad_route", f"no handler for path {path}")
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                body = None
            with self._lock:
                self.calls.append((method, body if isinstance(body, dict) else {}))
                faults = self._faults.get(method, [])
                fault = faults[0] if faults else None
                if fault is not None and fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        faults.pop(0)
            if fault is not None:
                return fault.status, {"code": fault.code, "msg": fault.msg}
            token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
            if token not in self._tokens:
                raise _TwirpError("unauthenticated", "missing or unknown bearer token")
            if not isinstance(body, dict):
                raise _TwirpError("malformed", "the body is not a JSON object")
            ids = _backend_ids(token)
            assert ids is not None
            with self._lock:
                return 200, getattr(self, f"_{method}")(ids, body)
        except _TwirpError as exc:
            return _STATUS[exc.code], {"code": exc.code, "msg": exc.msg}

    def _check_ids(self, ids: tuple[str, str], body: dict[str, Any], *, job: bool) -> None:
        run_id, job_id = (
            body.get("workflow_run_backend_id"),
            body.get("workflow_job_run_backend_id"),
        )
        if run_id != ids[0] or (job and job_id != ids[1]):
            raise _TwirpError("permission_denied", "backend ids do not match the token")

    def _artifact(self, run_id: str, name: Any, *, finalized: bool) -> Artifact:
        for artifact in self.artifacts:
            done = artifact.database_id is not None
            if artifact.run_id == run_id and artifact.name == name and done == finalized:
                return artifact
        raise _TwirpError("not_found", f"artifact {name!r} not found")

    def _CreateArtifact(self, ids: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._check_ids(ids, body, job=True)
        name, version = body.get("name"), body.get("version")
        if not isinstance(name, str) or not name or re.search(r'[":<>|*?\r\n\\/]', name):
            raise _TwirpError("invalid_argument", f"invalid artifact name {name!r}")
        if not isinstance(version, int) or version < 4:
            raise _TwirpError("invalid_argument", f"unsupported version {version!r}")
        expires_at = body.get("expires_at")
        if expires_at is not None and not re.fullmatch(
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", str(expires_at)
        ):
            raise _TwirpError("invalid_argument", f"expires_at is not a timestamp: {expires_at}")
        if any(a.run_id == ids[0] and a.name == name for a in self.artifacts):
            raise _TwirpError("already_exists", f"an artifact named {name!r} already exists")
        blob = f"{ids[0]}/{ids[1]}/{name}.zip"
        self.artifacts.append(
            Artifact(ids[0], ids[1], name, blob, version, _now(), expires_at, body.get("mime_type"))
        )
        url = self.blob.blob_url(CONTAINER, blob, self.upload_permissions)
        self.artifacts[-1].upload_url = url
        return {"ok": True, "signed_upload_url": url}

    def _FinalizeArtifact(self, ids: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._check_ids(ids, body, job=True)
        artifact = self._artifact(ids[0], body.get("name"), finalized=False)
        digest = body.get("hash")
        if digest is not None and not re.fullmatch(r"sha256:[0-9a-f]{64}", str(digest)):
            raise _TwirpError("invalid_argument", f"hash is not sha256:<hex>: {digest}")
        try:
            size = int(body.get("size", 0))
        except ValueError:
            raise _TwirpError("invalid_argument", "size is not an int64") from None
        status, headers, data = request("GET", self.blob.blob_url(CONTAINER, artifact.blob, "r"))
        if status != 200:
            raise _TwirpError("failed_precondition", f"no committed blob (Azurite said {status})")
        artifact.size, artifact.digest = size, digest
        artifact.blob_size, artifact.blob_sha256 = len(data), hashlib.sha256(data).hexdigest()
        artifact.blob_content_type = headers.get("content-type")
        artifact.database_id = self._next_id
        self._next_id += 1
        return {"ok": True, "artifact_id": str(artifact.database_id)}

    def _ListArtifacts(self, ids: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._check_ids(ids, body, job=False)
        name, id_filter = body.get("name_filter"), body.get("id_filter")
        found = [
            {
                "workflow_run_backend_id": a.run_id,
                "workflow_job_run_backend_id": a.job_id,
                "database_id": str(a.database_id),
                "name": a.name,
                "size": str(a.size),
                "created_at": a.created_at,
                **({"digest": a.digest} if a.digest else {}),
            }
            for a in self.artifacts
            if a.run_id == ids[0]
            and a.database_id is not None
            and (name is None or a.name == name)
            and (id_filter is None or str(a.database_id) == str(id_filter))
        ]
        return {"artifacts": found}

    def _GetSignedArtifactURL(self, ids: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._check_ids(ids, body, job=False)
        artifact = self._artifact(ids[0], body.get("name"), finalized=True)
        return {"signed_url": self.blob.blob_url(CONTAINER, artifact.blob, "r")}

    def _DeleteArtifact(self, ids: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        self._check_ids(ids, body, job=False)
        artifact = self._artifact(ids[0], body.get("name"), finalized=True)
        self.artifacts.remove(artifact)
        return {"ok": True, "artifact_id": str(artifact.database_id)}


def _handler(standin: ResultsStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = standin.handle(self.path, self.headers.get("Authorization", ""), raw)
            self._send(status, answer)

        def do_GET(self) -> None:
            self._send(404, {"code": "bad_route", "msg": "Twirp accepts only POST"})

        do_PUT = do_DELETE = do_GET

        def _send(self, status: int, answer: dict[str, Any]) -> None:
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def twirp_call(
    results_url: str, token: str, method: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """Call the service as a downloader would (for tests): (status, JSON answer)."""
    url = results_url.rstrip("/") + PREFIX + method
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, _, data = request("POST", url, json.dumps(body).encode(), headers)
    return status, json.loads(data)
